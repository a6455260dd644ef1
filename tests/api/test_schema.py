"""Property-based tests of the API against its own OpenAPI schema (schemathesis).

Every operation gets generated inputs, valid and invalid: no input may produce a 5xx, and every
response must match the schema the app publishes (status codes, content types, bodies).

The app is built at import time because ``schema.parametrize()`` needs the schema when the module is
collected (``schemathesis.pytest.from_fixture`` does not work with this pytest version). It runs on a
fake-embedder index in a temporary folder, so this costs a fraction of a second.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from kiji.api.app import create_app
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import load_current
from kiji.settings import Settings
from tests.helpers import build_fake_index

#: Examples per operation; KIJI_SCHEMA_EXAMPLES raises it for a deeper run.
MAX_EXAMPLES = int(os.environ.get("KIJI_SCHEMA_EXAMPLES", "25"))

_INDEX_DIR = Path(tempfile.mkdtemp(prefix="kiji-schema-index-"))
atexit.register(shutil.rmtree, _INDEX_DIR, ignore_errors=True)
build_fake_index(_INDEX_DIR)

# Votes the fuzzer sends to POST /v1/feedback go to a temporary store, not the checkout's var/.
_FEEDBACK_DIR = Path(tempfile.mkdtemp(prefix="kiji-schema-feedback-"))
atexit.register(shutil.rmtree, _FEEDBACK_DIR, ignore_errors=True)

_SETTINGS: dict[str, Any] = dict(index_dir=_INDEX_DIR, rate_limit_per_minute=0, watch_index=False,
                              admin_token="schema-admin-token", feedback_db=_FEEDBACK_DIR / "feedback.sqlite3")
_APP_ENGINE = Engine(index=load_current(_INDEX_DIR), embedder=FakeEmbedder())
_APP = create_app(Settings(**_SETTINGS), engine=_APP_ENGINE)
# from_asgi starts the app's lifespan itself (and keeps it for the rest of the process).
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()


# The same API with keys on: generated requests carry a valid key; schemathesis also checks that
# leaving it out (or sending a wrong one) is refused.
_KEYED_APP = create_app(Settings(**_SETTINGS, api_keys=["schema-key"]), engine=_APP_ENGINE)
keyed_schema = schemathesis.openapi.from_asgi("/openapi.json", _KEYED_APP)


@keyed_schema.include(path_regex="^/v1/").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_keyed_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    # The valid key is forced onto every request, so a generated "header left out" negative case
    # is no longer negative: that check belongs to the unkeyed run above and to test_api's 401s.
    case.call_and_validate(headers={"Authorization": "Bearer schema-key"},
                           excluded_checks=[negative_data_rejection])
