-- One product vocabulary (issue 14): every place a record names what it affects, one row per
-- (CVE, source, vendor, product) as the source spelt it.  Sources: the CNA's affected[]
-- ('cna'), every ADP container's affected[] ('adp', CISA-ADP's CPE-style names), the
-- vendor/product fields of CPE 2.3 strings anywhere in the record ('cpe'), and the KEV
-- catalog's vendorProject/product ('kev').  A view, not a table: it is the store's current
-- rows as they are, so the vocabulary can never fall out of step with the records, and the
-- ingest path pays nothing for it.  workloads/store/products.py reads it, links aliases
-- (case, '_' vs space, a CNA's abbreviation of the name another source uses in the same
-- record) and the RAG API keeps the result for a few minutes.
CREATE OR REPLACE VIEW product_mentions AS
    SELECT c.cve_id, 'cna'::text AS source, a ->> 'vendor' AS vendor, a ->> 'product' AS product
        FROM cves c JOIN cve_versions v USING (cve_id, version),
             jsonb_array_elements(CASE jsonb_typeof(v.record -> 'containers' -> 'cna' -> 'affected')
                 WHEN 'array' THEN v.record -> 'containers' -> 'cna' -> 'affected' ELSE '[]' END) a
        WHERE c.state <> 'REJECTED' AND jsonb_typeof(a) = 'object'
    UNION ALL
    SELECT c.cve_id, 'adp', a ->> 'vendor', a ->> 'product'
        FROM cves c JOIN cve_versions v USING (cve_id, version),
             jsonb_array_elements(CASE jsonb_typeof(v.record -> 'containers' -> 'adp')
                 WHEN 'array' THEN v.record -> 'containers' -> 'adp' ELSE '[]' END) d,
             jsonb_array_elements(CASE jsonb_typeof(d -> 'affected')
                 WHEN 'array' THEN d -> 'affected' ELSE '[]' END) a
        WHERE c.state <> 'REJECTED' AND jsonb_typeof(a) = 'object'
    UNION ALL
    SELECT c.cve_id, 'cpe', split_part(p, ':', 4), split_part(p, ':', 5)
        FROM cves c, unnest(c.cpes) p
        WHERE c.state <> 'REJECTED' AND p LIKE 'cpe:2.3:%'
    UNION ALL
    SELECT k.cve_id, 'kev', k.vendor_project, k.product FROM kev_catalog k JOIN cves c USING (cve_id)
        WHERE c.state <> 'REJECTED';
