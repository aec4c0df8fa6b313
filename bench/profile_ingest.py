"""`python -m bench.profile_ingest`: where one single ingest request's time goes, in process.

Makes its own database (postback_bench_profile, dropped at the end), the bench's 64 affiliates
and endpoints, and an ingest token; posts conversions one request at a time through Django's
test client (every middleware, DRF, the service, the Redis enqueue) and prints:
- CPU ms per request over 3 runs of 1,000 (median, min-max): the part of a request that is
  Python; PostgreSQL's and Redis's own work is not in it;
- the SQL statements of one request, with their time;
- with --cprofile, cProfile's top functions by cumulative time.
For a sampling profile, run it under py-spy (docs/benchmarks.md says how).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time

from bench.config import PG_URL, ROOT, Options, process_env
from bench.loaders import Fixture

REQUESTS = 1000
DB_NAME = "postback_bench_profile"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_ingest", description=__doc__)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    options = Options.quick_run()
    os.environ.update(process_env(options, settings="config.settings.production"))
    os.environ["DATABASE_URL"] = f"{PG_URL}/{DB_NAME}"
    sys.path.insert(0, str(ROOT))
    import django

    from bench import loaders

    loaders.recreate_database(DB_NAME)
    django.setup()
    try:
        loaders.migrate()
        return _profile(loaders.load_fixture(options), cprofile=args.cprofile)
    finally:
        from django.db import connections

        connections.close_all()
        loaders.drop_database(DB_NAME)


def _profile(fixture: Fixture, *, cprofile: bool) -> int:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.web_scenarios import _conversion

    out = io.StringIO()
    call_command("create_api_token", "bench-profile", "--scope", "ingest", stdout=out)
    client = Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip().splitlines()[-1]}")
    counter = iter(range(10**9))

    def post() -> None:
        body = json.dumps(_conversion(fixture, "prof", next(counter)))
        response = client.post("/api/v1/conversions/", body, content_type="application/json")
        if response.status_code != 202:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.content!r}")

    for _ in range(200):
        post()
    cpu = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(REQUESTS):
            post()
        cpu.append(1000 * (time.process_time() - started) / REQUESTS)
    print(
        f"CPU per request: {statistics.median(cpu):.2f} ms "
        f"({min(cpu):.2f}-{max(cpu):.2f}, 3 runs of {REQUESTS})"
    )
    with CaptureQueriesContext(connection) as queries:
        post()
    print(f"SQL statements of one request: {len(queries.captured_queries)}")
    for query in queries.captured_queries:
        print(f"  {float(query['time']) * 1000:6.2f} ms  {query['sql'][:110]}")
    if cprofile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(REQUESTS):
            post()
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        print(text.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
