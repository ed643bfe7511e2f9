"""The W3C DPV purposes a consent can name, in words a person reads."""

from __future__ import annotations

PURPOSES: dict[str, str] = {
    "ServiceProvision": "Provide the product or service you asked for",
    "CustomerCare": "Help you when you ask for support",
    "DirectMarketing": "Send you marketing messages",
    "Personalisation": "Tailor what they show you",
    "ServiceUsageAnalytics": "Measure how their service is used",
    "CommunicationForCustomerCare": "Contact you about your orders or requests",
    "FraudPreventionAndDetection": "Prevent and detect fraud",
}
