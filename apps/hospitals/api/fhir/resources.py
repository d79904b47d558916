"""FHIR R4 resources of the terminology facade, built from catalog reads: each published release
is a version of one CodeSystem (``version`` = the release label), concepts are not listed
(``content: not-present``: a release holds up to 500,000 items; use $lookup / $validate-code),
and retired codes map to their successors through one ConceptMap ($translate).

The canonical URLs are settings (``FHIR_CATALOG_SYSTEM``, ``FHIR_SUCCESSOR_MAP``): NHSA has
published no FHIR canonical for its catalog that we know of, so the defaults are ours.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.catalog.models import CatalogItem, CatalogRelease

FHIR_VERSION = "4.0.1"
CODE_SYSTEM_NAME = "NationalMedicalInsuranceCatalog"
ERROR_SYSTEM = "urn:catalog-portal:error-code"  # the portal's stable error codes, as in the API envelope
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# Item fields given as concept properties: (property code, FHIR type, item attribute).
PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("kind", "code", "kind"),
    ("category", "code", "category"),
    ("generic_name", "string", "generic_name"),
    ("dosage_form", "string", "dosage_form"),
    ("specification", "string", "specification"),
    ("manufacturer", "string", "manufacturer"),
    ("unit", "string", "unit"),
    ("pricing_unit", "string", "pricing_unit"),
    ("restriction_text", "string", "restriction_text"),
    ("restriction_indication", "string", "restriction_indication"),
    ("restriction_max_days", "integer", "restriction_max_days"),
    ("restriction_hospital_level", "code", "restriction_hospital_level"),
    ("self_pay_ratio", "decimal", "self_pay_ratio"),
    ("payment_standard_fen", "integer", "payment_standard_fen"),
    ("category_path", "string", "category_path"),
)
_DESCRIPTIONS = {
    "kind": "drug, tcm_piece, service or consumable",
    "category": "payment category: 01 甲, 02 乙, 03 丙",
    "self_pay_ratio": "乙 items: the patient's share paid first (0-1)",
    "payment_standard_fen": "negotiated payment standard, integer fen",
}


def system_url() -> str:
    return str(getattr(settings, "FHIR_CATALOG_SYSTEM", "https://catalog.nhsa.example/fhir/CodeSystem/national-catalog"))


def successor_map_url() -> str:
    return str(getattr(settings, "FHIR_SUCCESSOR_MAP", "https://catalog.nhsa.example/fhir/ConceptMap/national-catalog-successors"))


def code_system_id(release: CatalogRelease) -> str:
    candidate = f"national-catalog-{release.label}"
    return candidate if _FHIR_ID.match(candidate) else f"national-catalog-r{release.pk}"


def _instant(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def code_system(release: CatalogRelease, *, in_force: CatalogRelease | None) -> dict[str, Any]:
    """One published release as a CodeSystem version. A release superseded by the one in force
    today is ``retired``; the one in force and those taking effect later are ``active``."""
    superseded = in_force is not None and release.effective_from < in_force.effective_from
    return {
        "resourceType": "CodeSystem",
        "id": code_system_id(release),
        "url": system_url(),
        "identifier": [{"system": "urn:catalog-portal:release", "value": release.label}],
        "version": release.label,
        "name": CODE_SYSTEM_NAME,
        "title": f"国家医保药品、医疗服务项目和医用耗材目录 {release.label}",
        "status": "retired" if superseded else "active",
        "experimental": False,
        "date": _instant(release.published_at),
        "publisher": "National Healthcare Security Administration catalog portal",
        "description": f"Catalog release {release.label}, in force from {release.effective_from.isoformat()}; "
        f"SHA-256 of the canonical export {release.sha256}.",
        "caseSensitive": True,
        "versionNeeded": True,
        "content": "not-present",
        "count": int((release.counts or {}).get("total", 0)),
        "property": [
            {"code": code, "type": kind, **({"description": _DESCRIPTIONS[code]} if code in _DESCRIPTIONS else {})}
            for code, kind, _ in PROPERTIES
        ],
    }


def _property_value(kind: str, value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if kind == "decimal":
        return {"valueDecimal": float(Decimal(value))}
    if kind == "integer":
        return {"valueInteger": int(value)}
    if kind == "code":
        return {"valueCode": str(value)}
    return {"valueString": str(value)}


def lookup_parameters(item: CatalogItem, release: CatalogRelease) -> dict[str, Any]:
    """$lookup output: name, version, display and the item's fields as properties."""
    parameters: list[dict[str, Any]] = [
        {"name": "name", "valueString": CODE_SYSTEM_NAME},
        {"name": "version", "valueString": release.label},
        {"name": "display", "valueString": item.name},
    ]
    for code, kind, attribute in PROPERTIES:
        value = _property_value(kind, getattr(item, attribute))
        if value is not None:
            parameters.append({"name": "property", "part": [{"name": "code", "valueCode": code}, {"name": "value", **value}]})
    if item.replaces:
        for former in item.replaces:
            parameters.append(
                {"name": "property", "part": [{"name": "code", "valueCode": "replaces"}, {"name": "value", "valueCode": former}]}
            )
    return {"resourceType": "Parameters", "parameter": parameters}


def validate_parameters(*, result: bool, message: str = "", display: str = "", version: str = "") -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "result", "valueBoolean": result}]
    if message:
        parameters.append({"name": "message", "valueString": message})
    if display:
        parameters.append({"name": "display", "valueString": display})
    if version:
        parameters.append({"name": "version", "valueString": version})
    return {"resourceType": "Parameters", "parameter": parameters}


def translate_parameters(*, matches: list[tuple[str, str, str]], release: CatalogRelease | None, message: str = "") -> dict[str, Any]:
    """$translate output; ``matches`` are (equivalence, code, display) in the release."""
    parameters: list[dict[str, Any]] = [{"name": "result", "valueBoolean": bool(matches)}]
    if message:
        parameters.append({"name": "message", "valueString": message})
    for equivalence, code, display in matches:
        concept: dict[str, Any] = {"system": system_url(), "code": code, "display": display}
        if release is not None:
            concept["version"] = release.label
        parameters.append(
            {
                "name": "match",
                "part": [
                    {"name": "equivalence", "valueCode": equivalence},
                    {"name": "concept", "valueCoding": concept},
                    {"name": "source", "valueUri": successor_map_url()},
                ],
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def search_bundle(resources: list[dict[str, Any]], *, base: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources],
    }


_ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    429: "throttled",
}


def operation_outcome(*, status: int, code: str, detail: str) -> dict[str, Any]:
    """An error as FHIR clients expect it; the portal's stable error code rides in
    ``details.coding`` (system ERROR_SYSTEM), the human text in ``details.text``."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": _ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing"),
                "details": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": detail},
            }
        ],
    }


def capability_statement(*, base: str) -> dict[str, Any]:
    """What this server does: read-only terminology (CodeSystem read/search, $lookup,
    $validate-code; ConceptMap $translate), JSON only, API-key or staff-token security."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "National Healthcare Security Administration catalog portal",
        "kind": "instance",
        "implementation": {"description": "National catalog terminology (read-only)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Authorization: Api-Key <prefix>.<secret> (hospitals) or Authorization: Token <token> (staff); "
                    "every interaction but this statement needs one."
                },
                "resource": [
                    {
                        "type": "CodeSystem",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": "url", "type": "uri"}, {"name": "version", "type": "token"}],
                        "operation": [
                            {"name": "lookup", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"},
                            {"name": "validate-code", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code"},
                        ],
                    },
                    {
                        "type": "ConceptMap",
                        "operation": [{"name": "translate", "definition": "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"}],
                    },
                ],
            }
        ],
    }
