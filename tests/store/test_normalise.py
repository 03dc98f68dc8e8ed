"""The normalisers: CVE JSON 5 (a real record file) and NVD 2.0 items (the API's shape)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from workloads.common.records import DocumentKind
from workloads.store.normalise import normalise
from workloads.store.projection import Cvss


def test_real_cve5_record(shared_data: Path) -> None:
    doc = json.loads((shared_data / "example-record-CVE-2024-39875.json").read_bytes())
    cna = doc["containers"]["cna"]
    n = normalise(doc, DocumentKind.CVE_RECORD, "CVE-2024-39875")
    assert (n.state, n.assigner) == (doc["cveMetadata"]["state"], doc["cveMetadata"]["assignerShortName"])
    assert n.description == cna["descriptions"][0]["value"]
    v31, v40 = cna["metrics"][0]["cvssV3_1"], cna["metrics"][1]["cvssV4_0"]
    assert n.cvss == {
        "v31": Cvss(v31["baseScore"], v31["baseSeverity"], v31["vectorString"]),
        "v40": Cvss(v40["baseScore"], v40["baseSeverity"], v40["vectorString"]),
    }
    assert n.base == n.cvss["v40"], "the newest CVSS version is the base"
    assert n.cwe_ids == [cna["problemTypes"][0]["descriptions"][0]["cweId"]]
    assert n.vendors == ["siemens"] and n.products == ["sinema remote connect server"]
    assert n.vendor_products == ["siemens:sinema remote connect server"]
    assert n.ssvc == {"exploitation": "none", "automatable": "no", "technical_impact": "partial"}
    assert n.kev_date_added is None
    assert n.date_published == datetime(2024, 7, 9, 12, 5, 32, 868000, tzinfo=UTC)


def test_adp_fills_what_the_cna_lacks_and_cna_wins_otherwise() -> None:
    doc: dict[str, Any] = {
        "dataType": "CVE_RECORD",
        "cveMetadata": {"cveId": "CVE-2024-0001", "state": "PUBLISHED", "dateUpdated": "2024-01-01T00:00:00"},
        "containers": {
            "cna": {
                "metrics": [{"cvssV3_1": {"baseScore": 5.0, "baseSeverity": "MEDIUM", "vectorString": "A"}}]
            },
            "adp": [
                {
                    "metrics": [
                        {"cvssV3_1": {"baseScore": 9.8, "baseSeverity": "CRITICAL", "vectorString": "B"}},
                        {"cvssV2_0": {"baseScore": "7.5", "vectorString": "AV:N"}},
                        {"other": {"type": "kev", "content": {"dateAdded": "2024-02-03"}}},
                    ],
                    "problemTypes": [{"descriptions": [{"description": "CWE-79 Cross-site Scripting"}]}],
                    "affected": [{"vendor": "n/a", "product": "Widget", "cpes": ["cpe:2.3:a:acme:widget:*"]}],
                }
            ],
        },
    }
    n = normalise(doc, DocumentKind.CVE_RECORD, "CVE-2024-0001")
    assert n.cvss["v31"].vector == "A" and n.cvss["v20"] == Cvss(7.5, "HIGH", "AV:N")
    assert n.kev_date_added == date(2024, 2, 3)
    assert n.cwe_ids == ["CWE-79"] and n.vendors == [] and n.products == ["widget"]
    assert n.cpes == ["cpe:2.3:a:acme:widget:*"]
    assert n.date_updated == datetime(2024, 1, 1, tzinfo=UTC), "a zone-less timestamp is UTC"


def nvd_item(status: str = "Analyzed") -> dict[str, Any]:
    metric = {"cvssData": {"version": "3.1", "baseScore": 7.5, "baseSeverity": "HIGH", "vectorString": "V"}}
    return {
        "cve": {
            "id": "CVE-2021-44228",
            "sourceIdentifier": "security@apache.org",
            "published": "2021-12-10T10:15:09.143",
            "lastModified": "2024-04-03T17:15:00.000",
            "vulnStatus": status,
            "cisaExploitAdd": "2021-12-10",
            "cisaVulnerabilityName": "Apache Log4j2 Remote Code Execution Vulnerability",
            "descriptions": [{"lang": "es", "value": "x"}, {"lang": "en", "value": "Apache Log4j2 JNDI"}],
            "metrics": {
                "cvssMetricV31": [
                    {"source": "nvd@nist.gov", "type": "Primary", **metric},
                    {
                        "source": "security@apache.org",
                        "type": "Secondary",
                        "cvssData": {**metric["cvssData"], "baseScore": 10.0, "baseSeverity": "CRITICAL"},
                    },
                ],
                "cvssMetricV2": [
                    {
                        "type": "Primary",
                        "cvssData": {"baseScore": 9.3, "vectorString": "AV:N"},
                        "baseSeverity": "HIGH",
                    }
                ],
            },
            "weaknesses": [{"description": [{"lang": "en", "value": "CWE-502"}, {"value": "NVD-CWE-Other"}]}],
            "configurations": [
                {
                    "nodes": [
                        {
                            "cpeMatch": [
                                {"vulnerable": True, "criteria": "cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"},
                                {
                                    "vulnerable": False,
                                    "criteria": "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*",
                                },
                            ]
                        }
                    ]
                }
            ],
        }
    }


def test_nvd_item_maps_onto_the_same_columns() -> None:
    n = normalise(nvd_item(), DocumentKind.NVD_ITEM, "CVE-2021-44228")
    assert (n.kind, n.state, n.assigner) == (DocumentKind.NVD_ITEM, "PUBLISHED", "security@apache.org")
    assert n.description == "Apache Log4j2 JNDI"
    assert n.cvss["v31"] == Cvss(10.0, "CRITICAL", "V"), "the CNA's (Secondary) score comes first"
    assert n.cvss["v20"] == Cvss(9.3, "HIGH", "AV:N")
    assert n.cwe_ids == ["CWE-502"]
    assert (n.vendors, n.products, n.vendor_products) == (["apache"], ["log4j"], ["apache:log4j"])
    assert n.cpes == ["cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"], "platform-only matches are not affected"
    assert n.kev_date_added == date(2021, 12, 10)
    assert n.title == "Apache Log4j2 Remote Code Execution Vulnerability"
    assert normalise(nvd_item("Rejected"), DocumentKind.NVD_ITEM, "CVE-2021-44228").state == "REJECTED"


def test_garbage_fields_do_not_raise() -> None:
    doc = {
        "dataType": "CVE_RECORD",
        "cveMetadata": {"cveId": "CVE-2024-0002", "state": 5, "datePublished": "yesterday"},
        "containers": {"cna": {"metrics": "none", "affected": [None, {"vendor": 3}], "descriptions": {}}},
    }
    n = normalise(doc, DocumentKind.CVE_RECORD, "CVE-2024-0002")
    assert n.state == "PUBLISHED" and n.date_published is None and n.cvss == {} and n.vendors == []
