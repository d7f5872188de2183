"""Service fixtures (see tests/conftest_service.py)."""
from tests.conftest_service import *  # noqa: F401,F403
from tests.conftest_service import (app, backend, client, database_url, live_server, live_workers,  # noqa: F401
                                    service_settings)
