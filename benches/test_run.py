"""Tests of benches/run.py's output parsing and ratios: a wrong unit or column here would
put plausible-looking wrong numbers into docs/benchmarks.md. Run:
    python3 -m unittest benches/test_run.py
"""

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

WRK = """Running 2s test @ http://127.0.0.1:40000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   652.10us  301.00us   9.87ms   80.00%
    Req/Sec    98.12k     3.01k  101.00k    75.00%
  Latency Distribution
     50%  601.00us
     75%  700.00us
     90%  850.00us
     99%    {p99}
  195000 requests in 2.00s, 17.00MB read
{extra}Requests/sec:  97500.12
Transfer/sec:      8.50MB
"""


class ParseWrk(unittest.TestCase):
    def test_p99_units_become_milliseconds(self):
        for text, ms in (("812.00us", 0.812), ("1.50ms", 1.5), ("2.00s", 2000.0), ("1.00m", 60000.0)):
            s = run.parse_wrk(WRK.format(p99=text, extra=""))
            self.assertAlmostEqual(s.p99_ms, ms)
            self.assertEqual(s.rps, 97500.12)
            self.assertEqual(s.note, "")

    def test_errors_are_noted(self):
        extra = "  Socket errors: connect 0, read 12, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n"
        s = run.parse_wrk(WRK.format(p99="1.00ms", extra=extra))
        self.assertEqual(s.note, "7 non-2xx responses; socket errors c/r/w/t 0/12/0/3")

    def test_no_summary_is_a_failure(self):
        with self.assertRaises(run.StartFailed):
            run.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


H2LOAD = """finished in 2.00s, 5000.50 req/s, 1.00MB/s
requests: 10001 total, 10001 started, 10001 done, {ok} succeeded, {failed} failed, 0 errored, 0 timeout
"""


class ParseH2load(unittest.TestCase):
    def test_p99_from_the_per_request_log(self):
        with tempfile.TemporaryDirectory() as d:
            log = Path(d) / "h2.log"
            # 100 requests taking 1..100 ms (3rd column, microseconds): the p99 is 100 ms.
            log.write_text("".join(f"1700000000{i:06d}\t200\t{(i + 1) * 1000}\n" for i in range(100)))
            s = run.parse_h2load(H2LOAD.format(ok=10001, failed=0), log)
            self.assertEqual(s.rps, 5000.5)
            self.assertEqual(s.p99_ms, 100.0)
            self.assertEqual(s.note, "")

    def test_missing_log_gives_no_p99(self):
        s = run.parse_h2load(H2LOAD.format(ok=9000, failed=1001), Path("/nonexistent/h2.log"))
        self.assertIsNone(s.p99_ms)
        self.assertEqual(s.note, "1001 failed, 0 errored")

    def test_nothing_succeeded_is_a_failure(self):
        # e.g. no h2 negotiated: h2load "finishes" with zero successes.
        with self.assertRaises(run.StartFailed):
            run.parse_h2load(H2LOAD.format(ok=0, failed=10001), Path("/nonexistent"))


class Ratios(unittest.TestCase):
    def test_ratio_is_numerator_over_the_row_it_is_shown_on(self):
        w = next(w for w in run.workloads() if w.key == "plaintext")
        rows = [run.Row(w, s, [run.Sample(v, 1.0), run.Sample(v * 3, 1.0), run.Sample(v, 1.0)], "")
                for s, v in zip(w.servers, (90.0, 100.0, 120.0))]
        self.assertEqual(run.ratio_cells(rows, rows[0]), ("", ""))
        self.assertEqual(run.ratio_cells(rows, rows[1]), ("0.90", "runicorn examples/hello"))
        self.assertEqual(run.ratio_cells(rows, rows[2]), ("0.75", "runicorn examples/hello"))

    def test_skipped_numerator_gives_na(self):
        w = next(w for w in run.workloads() if w.key == "wsgi")
        rows = [run.Row(w, s, [] if s.family == "runicorn" else [run.Sample(10.0, 1.0)],
                        "skipped" if s.family == "runicorn" else "") for s in w.servers]
        self.assertEqual(run.ratio_cells(rows, rows[2]), ("n/a", "runicorn (sync)"))


if __name__ == "__main__":
    unittest.main()
