"""The HTTP API of missions: thin FastAPI routes over `MissionsClient` and the read model."""
