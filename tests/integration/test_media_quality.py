"""Per-flow media quality in the admin API (issue 6): RTP relayed through a
real allocation, with a known loss (every 50th packet never sent) and a
known jitter, must show up per allocation and per peer within 20%.

The jitter comes from the timestamps: packets leave back to back (a few
microseconds apart, 2 ms between bursts of 20) while their RTP timestamps step by 20 ms (160 units
of PT 0's 8 kHz clock), so every transit difference D is about 160 units
and the RFC 3550 estimate J += (|D| - J) / 16 converges to 160 units, 20 ms.
"""
import socket
import struct
import time
import unittest

from test_admin import AdminTest, metric
from turnclient import error_code

PACKETS = 500
DROP_EVERY = 50
TS_STEP = 160  # 20 ms at 8 kHz (PT 0, PCMU)


def rtp(seq, ts, ssrc, pt=0, payload=b"\x55" * 160):
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF,
                       ssrc) + payload


class MediaQuality(AdminTest):
    def test_loss_and_jitter_per_flow(self):
        c = self.client()
        relay = self.allocate(c)
        peer = self.peer()
        pip, pport = peer.getsockname()
        resp = c.channel_bind(0x4001, pip, pport)
        self.assertEqual(resp[1], 2, error_code(resp[3]))

        # peer -> client: every 50th packet is never sent, timestamps of
        # a 20 ms clock, sent back to back
        seq0, ts0 = 65000, 123456  # the sequence number wraps on the way
        sent = 0
        for i in range(PACKETS):
            if (i + 1) % DROP_EVERY == 0 and i != PACKETS - 1:
                continue
            peer.sendto(rtp(seq0 + i, ts0 + i * TS_STEP, 0xA1B2C3D4), relay)
            sent += 1
            if sent % 20 == 0:
                time.sleep(0.002)  # let the relay drain its socket
        # client -> peer: a clean stream, paced
        for i in range(60):
            c.channel_data(0x4001, rtp(i, i * TS_STEP, 0x11223344))
        got = 0
        peer.settimeout(2)
        try:
            while got < 60:
                peer.recvfrom(2048)
                got += 1
        except socket.timeout:
            pass
        self.assertEqual(got, 60)

        deadline = time.time() + 5
        while True:
            lst = self.d.json("/api/allocations")
            alloc = lst["allocations"][0]
            if (alloc["to_client"]["packets"] >= sent - 5 or
                    time.time() > deadline):
                break
            time.sleep(0.1)
        expected_lost = PACKETS // DROP_EVERY - 1
        self.assertEqual(alloc["to_client"]["packets"], sent)
        summary = alloc["media"]["to_client"]
        self.assertIsNotNone(summary)
        self.assertAlmostEqual(summary["loss_pct"], 100.0 * expected_lost / PACKETS,
                               delta=0.2 * 100.0 * expected_lost / PACKETS)
        self.assertAlmostEqual(summary["jitter_ms"], 20.0, delta=4.0)
        self.assertEqual(alloc["media"]["to_peer"]["loss_pct"], 0.0)

        detail = self.d.json("/api/allocations/" + alloc["id"])
        self.assertIn("upstream", detail["media_note"])
        perm = detail["permissions"][0]
        down = perm["media"]["to_client"]
        self.assertEqual(len(down), 1)
        s = down[0]
        self.assertEqual(s["ssrc"], 0xA1B2C3D4)
        self.assertEqual(s["payload_type"], 0)
        self.assertEqual(s["clock_hz"], 8000)
        self.assertEqual(s["expected"], PACKETS)
        self.assertEqual(s["lost"], expected_lost)
        self.assertAlmostEqual(s["jitter_ts"], TS_STEP, delta=0.2 * TS_STEP)
        up = perm["media"]["to_peer"]
        self.assertEqual([u["ssrc"] for u in up], [0x11223344])
        self.assertEqual(up[0]["received"], 60)
        self.assertEqual(up[0]["lost"], 0)

    def test_non_rtp_flow_has_no_media(self):
        c = self.client()
        relay = self.allocate(c)
        peer = self.peer()
        pip, pport = peer.getsockname()
        resp = c.create_permission(pip)
        self.assertEqual(resp[1], 2, error_code(resp[3]))
        for i in range(20):
            peer.sendto(b"not rtp at all %d" % i, relay)
        time.sleep(0.3)
        alloc = self.d.json("/api/allocations")["allocations"][0]
        self.assertGreater(alloc["to_client"]["packets"], 0)
        self.assertIsNone(alloc["media"]["to_client"])
        detail = self.d.json("/api/allocations/" + alloc["id"])
        self.assertEqual(detail["permissions"][0]["media"]["to_client"], [])


class MediaMonitoring(AdminTest):
    """The node's summary (docs/media-quality.md, Monitoring): bands and
    histograms in /metrics without names, the worst flows by name in
    /api/media/worst. Two allocations on a 2-worker daemon: bob's peer
    sends 240 RTP packets with every 12th missing (20 lost, 8.3 %: bad),
    alice sends 120 clean ones to her peer (good). Timestamps stay put
    (fragments of one video frame), so jitter stays near 0 ms."""

    LOSSY, LOST = 240, 20

    def stream(self, user, lossy):
        c = self.client(user, {"alice": "wonderland", "bob": "builder"}[user])
        relay = self.allocate(c)
        peer = self.peer()
        pip, pport = peer.getsockname()
        resp = c.channel_bind(0x4001, pip, pport)
        self.assertEqual(resp[1], 2, error_code(resp[3]))
        if lossy:
            for i in range(self.LOSSY):
                if i % 12 != 5:
                    peer.sendto(rtp(100 + i, 9000, 0xB0B0B0B0, pt=96), relay)
                if i % 20 == 19:
                    time.sleep(0.002)
        else:
            for i in range(120):
                c.channel_data(0x4001, rtp(7 + i, 5000, 0xA11CE, pt=96))
                if i % 20 == 19:
                    time.sleep(0.002)
        return peer

    def summary(self, pred, timeout=6.0):
        deadline = time.time() + timeout
        while True:
            m = self.d.metrics()
            if pred(m) or time.time() > deadline:
                return m
            time.sleep(0.2)

    def test_bands_histograms_and_worst(self):
        self.stream("alice", lossy=False)
        self.stream("bob", lossy=True)

        def flows(m, d, b):
            return metric(m, "avedge_media_flows", direction=d, band=b)

        m = self.summary(lambda m: flows(m, "to_client", "bad") == 1 and
                         flows(m, "to_peer", "good") == 1)
        self.assertEqual(flows(m, "to_client", "bad"), 1)
        self.assertEqual(flows(m, "to_peer", "good"), 1)
        for band in ("good", "fair", "poor"):
            self.assertEqual(flows(m, "to_client", band), 0, band)
        for band in ("fair", "poor", "bad"):
            self.assertEqual(flows(m, "to_peer", band), 0, band)

        def bucket(name, d, le):
            return metric(m, name + "_bucket", direction=d, le=le)

        loss = "avedge_media_flow_loss_pct"
        self.assertEqual(bucket(loss, "to_client", "5"), 0)
        self.assertEqual(bucket(loss, "to_client", "10"), 1)
        self.assertEqual(bucket(loss, "to_client", "+Inf"), 1)
        self.assertEqual(bucket(loss, "to_peer", "0.1"), 1)
        self.assertEqual(metric(m, loss + "_count", direction="to_client"), 1)
        self.assertAlmostEqual(metric(m, loss + "_sum", direction="to_client"),
                               100.0 * self.LOST / self.LOSSY, delta=0.01)
        jit = "avedge_media_flow_jitter_ms"
        self.assertEqual(bucket(jit, "to_client", "5"), 1)
        self.assertEqual(bucket(jit, "to_peer", "5"), 1)
        self.assertEqual(metric(m, "avedge_media_lost_packets_total",
                                direction="to_client"), self.LOST)
        self.assertEqual(metric(m, "avedge_media_lost_packets_total",
                                direction="to_peer"), 0)
        _, _, text = self.d.http("/metrics")
        for name in ("alice", "bob", "127.0.0.1"):
            self.assertNotIn(name, text)

        w = self.d.json("/api/media/worst")
        self.assertEqual(w["bands"]["to_client"]["bad"], 1)
        self.assertEqual(w["bands"]["to_peer"]["good"], 1)
        self.assertEqual(len(w["flows"]), 2)
        first = w["flows"][0]
        self.assertEqual(first["user"], "bob")
        self.assertEqual(first["direction"], "to_client")
        self.assertEqual(first["band"], "bad")
        self.assertEqual(first["realm"], "test.local")
        self.assertEqual(first["peer"], "127.0.0.1")
        self.assertEqual(first["lost"], self.LOST)
        self.assertEqual(first["packets"], self.LOSSY - self.LOST)
        self.assertAlmostEqual(first["loss_pct"], 100.0 * self.LOST / self.LOSSY,
                               delta=0.01)
        ids = [a["id"] for a in self.d.json("/api/allocations")["allocations"]
               if a["user"] == "bob"]
        self.assertEqual([first["id"]], ids)
        self.assertEqual(w["flows"][1]["user"], "alice")
        self.assertEqual(w["flows"][1]["direction"], "to_peer")
        self.assertEqual(w["flows"][1]["loss_pct"], 0.0)


if __name__ == "__main__":
    unittest.main()
