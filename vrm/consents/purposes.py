"""The W3C DPV purposes a consent can name, in words a person reads."""

from __future__ import annotations

from vrm.i18n import N_

# English here (the API shows these words too); the pages translate them where shown.
PURPOSES: dict[str, str] = {
    "ServiceProvision": N_("Provide the product or service you asked for"),
    "CustomerCare": N_("Help you when you ask for support"),
    "DirectMarketing": N_("Send you marketing messages"),
    "Personalisation": N_("Tailor what they show you"),
    "ServiceUsageAnalytics": N_("Measure how their service is used"),
    "CommunicationForCustomerCare": N_("Contact you about your orders or requests"),
    "FraudPreventionAndDetection": N_("Prevent and detect fraud"),
}
