"""README, "Testing your code": ThreadedServer for sync code without pytest fixtures."""

import unittest

import beanclient
import fakebean


class ReportJobsTest(unittest.TestCase):
    def setUp(self):
        self.server = fakebean.ThreadedServer(clock="frozen").start()
        self.addCleanup(self.server.close)
        self.client = beanclient.Client(self.server.address)
        self.addCleanup(self.client.close)

    def test_report_is_delayed_an_hour(self):
        self.client.put("send report", delay=3600)
        self.server.advance(3600)
        self.assertEqual(self.client.reserve(timeout=0).body, "send report")
