"""Consents (ISO/IEC TS 27560 style) with signed receipts, and their enforcement."""
