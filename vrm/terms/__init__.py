"""Personal terms (IEEE 7012 style): a published roster the person proffers from, the
vendor's standing acceptance, and the agreement both sides keep."""
