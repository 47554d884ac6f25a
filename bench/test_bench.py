"""Unit tests for the benchmark's parsing and arithmetic (no root, no network).

Run: python3 -m unittest discover -s bench
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measure  # noqa: E402
import report  # noqa: E402
from lab import parse_stat_cpu  # noqa: E402
from suite import METRICS, Names  # noqa: E402

PING_OUTPUT = """PING 198.19.0.2 (198.19.0.2) 56(84) bytes of data.
64 bytes from 198.19.0.2: icmp_seq=1 ttl=64 time=0.412 ms
64 bytes from 198.19.0.2: icmp_seq=2 ttl=64 time=12.3 ms
64 bytes from 198.19.0.2: icmp_seq=4 ttl=64 time=1.05 ms

--- 198.19.0.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 31ms
rtt min/avg/max/mdev = 0.412/4.587/12.300/5.500 ms
"""


class StatTest(unittest.TestCase):
    def test_utime_plus_stime_even_with_parentheses_in_the_name(self):
        # Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        stat = "4242 (we) ird) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 269 5 7 20 0 4 0 123 0 0"
        self.assertEqual(parse_stat_cpu(stat), 731 + 269)


class PingTest(unittest.TestCase):
    def test_times_and_counts(self):
        rtts, sent, got = measure.parse_ping(PING_OUTPUT)
        self.assertEqual(rtts, [0.412, 12.3, 1.05])
        self.assertEqual((sent, got), (4, 3))

    def test_no_summary_is_an_error(self):
        with self.assertRaises(measure.MeasureError):
            measure.parse_ping("ping: connect: Network is unreachable\n")

    def test_nearest_rank_percentile(self):
        values = list(range(1, 51))  # 1..50
        self.assertEqual(measure.percentile(values, 99), 50)
        self.assertEqual(measure.percentile(values, 50), 25)
        self.assertEqual(measure.percentile([3.0], 99), 3.0)
        self.assertIsNone(measure.percentile([], 99))


class IperfTest(unittest.TestCase):
    def test_arguments(self):
        self.assertEqual(
            measure.iperf_args("198.19.0.2", 10),
            ["iperf3", "-c", "198.19.0.2", "-p", "5201", "-t", "10", "-J", "--connect-timeout", "3000"],
        )
        udp = measure.iperf_args("h", 3, udp=True)
        self.assertIn("-u", udp)
        self.assertEqual(udp[udp.index("-b") + 1], "0")
        self.assertEqual(udp[udp.index("-l") + 1], str(1420 - 28))
        both = measure.iperf_args("h", 3, streams=4, reverse=True)
        self.assertEqual(both[both.index("-P") + 1], "4")
        self.assertIn("-R", both)

    def test_received_side_is_used(self):
        data = {
            "end": {
                "sum_sent": {"bits_per_second": 2e9, "bytes": 2_500_000_000},
                "sum_received": {"bits_per_second": 1.5e9, "bytes": 1_875_000_000, "lost_percent": 2.5},
            }
        }
        self.assertEqual(measure.received(data), (1.5e9, 1_875_000_000))
        self.assertEqual(measure.udp_received(data), (1.5e9, 2.5))

    def test_iperf_error_and_garbage(self):
        with self.assertRaisesRegex(measure.MeasureError, "unable to connect"):
            measure.parse_iperf_json('{"start": {}, "error": "unable to connect to server"}')
        with self.assertRaises(measure.MeasureError):
            measure.parse_iperf_json("iperf3: error - no JSON here", "")
        with self.assertRaises(measure.MeasureError):
            measure.received({"end": {}})


class ReportTest(unittest.TestCase):
    def results(self):
        return [
            {"impl": "braid", "rep": 1, "tcp1_gbps": 4.0, "udp_loss_pct": 1.0},
            {"impl": "braid", "rep": 2, "tcp1_gbps": 6.0},
            {"impl": "braid", "rep": 3, "tcp1_gbps": 5.0},
            {"impl": "wireguard-go", "rep": 1, "tcp1_gbps": 1.0, "udp_loss_pct": 0.0},
            {"impl": "wireguard-go", "rep": 2, "tcp1_gbps": 1.5},
        ]

    def test_medians_skip_missing_values(self):
        meds = report.medians(self.results(), ["braid", "wireguard-go"])
        self.assertEqual(meds["braid"]["tcp1_gbps"], 5.0)
        self.assertEqual(meds["wireguard-go"]["tcp1_gbps"], 1.25)
        self.assertEqual(meds["braid"]["udp_loss_pct"], 1.0)
        self.assertIsNone(meds["braid"]["cpu_s_per_gb"])

    def test_ratios_and_zero_anchor(self):
        meds = report.medians(self.results(), ["braid", "wireguard-go"])
        rats = report.ratios(meds, "braid", ["wireguard-go"])
        self.assertEqual(rats["wireguard-go"]["tcp1_gbps"], 4.0)
        self.assertIsNone(rats["wireguard-go"]["udp_loss_pct"])  # anchor lost nothing
        self.assertIsNone(rats["wireguard-go"]["cpu_s_per_gb"])

    def test_table_has_a_row_per_metric(self):
        meds = report.medians(self.results(), ["braid", "wireguard-go"])
        rats = report.ratios(meds, "braid", ["wireguard-go"])
        table = report.median_table(meds, rats, "braid", ["wireguard-go"]).splitlines()
        self.assertEqual(len(table), 2 + len(METRICS))
        self.assertIn("| TCP, 1 stream | Gbit/s | higher | 5.00 | 1.25 | 4.00× |", table)
        spread = report.spread_table(self.results(), ["braid", "wireguard-go"])
        self.assertIn("| TCP, 1 stream | 4.00 / 6.00 / 5.00 | 1.00 / 1.50 |", spread)

    def test_number_format(self):
        self.assertEqual(report.fmt(None), "—")
        self.assertEqual(report.fmt(0), "0")
        self.assertEqual(report.fmt(123.4), "123")
        self.assertEqual(report.fmt(12.34), "12.3")
        self.assertEqual(report.fmt(1.234), "1.23")
        self.assertEqual(report.fmt(0.4), "0.400")
        self.assertEqual(report.fmt_ratio(2.345), "2.35×")


class NamesTest(unittest.TestCase):
    def test_interface_names_fit_and_differ(self):
        names = [Names("99999", code, rep) for code in ("br", "wg", "bt") for rep in (1, 2, 99)]
        all_ifs = [n for ns in names for n in ns.tun + ns.veth]
        self.assertTrue(all(len(n) <= 15 for n in all_ifs))
        self.assertEqual(len(set(all_ifs)), len(all_ifs))
        self.assertEqual(len({n for ns in names for n in ns.ns}), 2 * len(names))

    def test_too_long_is_refused(self):
        with self.assertRaises(ValueError):
            Names("99999", "br", 123456)


if __name__ == "__main__":
    unittest.main()
