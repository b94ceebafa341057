"""Delivering data under a grant: masking the fields it does not cover, encrypting for the consumer."""
