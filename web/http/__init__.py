"""The HTTP edge shared by every route: who is asking (auth), decoding and encoding, errors mapped once,
templates, the OpenAPI document."""
