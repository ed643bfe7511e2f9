"""The roster of standard terms a person can proffer. Versioned: a term's text never changes
under the same (code, version); a new wording is a new version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vrm.i18n import N_

ROSTER_VERSION = "2026-11"


@dataclass(frozen=True)
class Term:
    code: str
    version: int
    title: str
    text: str
    flags: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> dict[str, Any]:
        return {"code": self.code, "version": self.version}


ROSTER: tuple[Term, ...] = (
    Term(
        "service-delivery-only",
        1,
        N_("Service delivery only"),
        N_("Use my data only to provide what I asked for. Nothing else."),
        {
            "purposes": ["ServiceProvision"],
            "analytics": False,
            "tracking": False,
            "profiling": False,
            "third_party_sharing": False,
        },
    ),
    Term(
        "service-delivery-analytics",
        1,
        N_("Service delivery, plus analytics"),
        N_(
            "Use my data to provide what I asked for, and to measure how your service is used, "
            "without following me elsewhere."
        ),
        {
            "purposes": ["ServiceProvision", "ServiceUsageAnalytics"],
            "analytics": True,
            "tracking": False,
            "profiling": False,
            "third_party_sharing": False,
        },
    ),
    Term(
        "service-delivery-tracking",
        1,
        N_("Service delivery, plus tracking"),
        N_("Use my data to provide what I asked for, and follow my use of your service over time."),
        {
            "purposes": ["ServiceProvision", "ServiceUsageAnalytics"],
            "analytics": True,
            "tracking": True,
            "profiling": False,
            "third_party_sharing": False,
        },
    ),
    Term(
        "service-delivery-profiling",
        1,
        N_("Service delivery, plus profiling"),
        N_("Use my data to provide what I asked for, and build a profile of me to personalise it."),
        {
            "purposes": ["ServiceProvision", "Personalisation"],
            "analytics": True,
            "tracking": True,
            "profiling": True,
            "third_party_sharing": False,
        },
    ),
    Term(
        "third-party-sharing",
        1,
        N_("Sharing with third parties"),
        N_("You may share the data I give you with your named partners, under these same terms."),
        {"third_party_sharing": True},
    ),
    Term(
        "deletion-and-portability",
        1,
        N_("Deletion and portability on request"),
        N_(
            "When I ask, delete my data, or give it to me in a machine-readable form, "
            "within 30 days."
        ),
        {"deletion_on_request": True, "portability_on_request": True, "response_days": 30},
    ),
    Term(
        "intentions-only",
        1,
        N_("Only to answer my intentions"),
        N_("Use what I disclose only to answer the requests for proposals I publish."),
        {"purposes": ["ServiceProvision"], "limited_to_intentions": True},
    ),
)

BY_CODE: dict[str, Term] = {term.code: term for term in ROSTER}
DEFAULT_TERMS = ("service-delivery-only", "deletion-and-portability")
