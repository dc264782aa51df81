"""Conversions from external formats, driven by the declarative files of mappings/: the
hospital's HL7 v2 ADT feed (er7 parser, mapping engine, ADT events, ACKs, the MLLP
listener and the $hl7v2-adt operation)."""
