"""The department's catalog: registering datasets and versions, and the DCAT view of them."""
