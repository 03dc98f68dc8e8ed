"""An answer's parts in their order: the findings (what is not there, then what the version log
and the enrichment say), the explanation (the model's, or the grounded summary without one),
and the facts block.  The findings and the facts never pass through the model, so both are
the same whether a model wrote the middle or not.

The model sees the findings too, as data inside the records' markers (they quote CVE text,
so they get the same JSON quoting and control-token breaking as the records).  Citations
name the version each record was read from (``CVE-…@v3``, with its valid_from), then the
other versions the findings cite.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from workloads.rag import prompt
from workloads.rag.answers.select import Selection
from workloads.rag.answers.timeline import ref
from workloads.rag.records import CVE_URL, CveFacts

FACTS_HEADER = "\n\nFacts from the store:\n"


def _iso(value: Any) -> str | None:
    """As the response model writes it (``Z`` for UTC), so streamed and plain citations agree."""
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else None


def citation(fact: CveFacts) -> dict[str, Any]:
    version = fact.fields.get("version")
    return {
        "cve_id": fact.cve_id,
        "title": fact.title,
        "url": fact.url,
        "version": version,
        "valid_from": _iso(fact.fields.get("valid_from")),
        "ref": f"{fact.cve_id}@v{version}" if version else None,
    }


def citations(chosen: Selection) -> list[dict[str, Any]]:
    cited = [citation(f) for f in chosen.facts]
    seen = {(c["cve_id"], c["version"]) for c in cited}
    titles = {f.cve_id: (f.title, f.url) for f in chosen.facts}
    for v in chosen.versions:
        if (v.cve_id, v.version) not in seen:
            seen.add((v.cve_id, v.version))
            title, url = titles.get(v.cve_id, (None, CVE_URL.format(v.cve_id)))
            cited.append(
                {
                    "cve_id": v.cve_id,
                    "title": title,
                    "url": url,
                    "version": v.version,
                    "valid_from": _iso(v.valid_from),
                    "ref": ref(v),
                }
            )
    return cited


def lead(chosen: Selection) -> str:
    """The findings, said first ("" when there are none)."""
    return "\n".join(chosen.findings) + "\n\n" if chosen.findings else ""


def fallback(question: str, chosen: Selection, reason: str) -> str:
    if not chosen.facts and chosen.findings:
        return lead(chosen) + f"(No language model was used: {reason}.)"
    return lead(chosen) + prompt.grounded_answer(question, chosen.facts, reason, chosen.left_out)


def tail(chosen: Selection) -> str:
    return FACTS_HEADER + prompt.facts_block(chosen.facts, chosen.left_out)


def with_model(text: str, chosen: Selection) -> str:
    return lead(chosen) + prompt.with_facts(text, chosen.facts, chosen.left_out)


def messages(question: str, chosen: Selection) -> list[dict[str, str]]:
    """The model's prompt: the records, and the findings as quoted data beside them."""
    chat = prompt.messages(question, chosen.facts)
    if chosen.findings:
        quoted = json.dumps(
            [prompt.neutralise(line) for line in chosen.findings], ensure_ascii=True, indent=1
        )
        user = chat[-1]["content"]
        end = user.rindex("\n<<<END-CVE-RECORDS ")
        chat[-1]["content"] = (
            user[:end]
            + "\nFindings the store computed from its version log and enrichment (authoritative;"
            + " cite versions as written, e.g. CVE-2024-3400@v3):\n"
            + quoted
            + user[end:]
        )
    return chat
