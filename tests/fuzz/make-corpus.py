#!/usr/bin/env python3
"""tests/fuzz/make-corpus.py - write the seed corpus of fuzz_stun into
tests/fuzz/corpus/stun: the RFC 5769 test vectors, the RFC 8489 B.1
request (as corrected by its errata), ChannelData frames, a stream of
frames back to back, and a few malformed rows of
tests/unit/test_stun_malformed.c. Deterministic; rerun after changing it."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "stun")


def h(s):
    return bytes.fromhex("".join(s.split()))


COOKIE_TID = h("2112a442 0102030405060708090a0b0c")

SEEDS = {
    # RFC 5769 s2.1-2.4
    "rfc5769-request": h("""
        000100582112a442b7e7a701bc34d686fa87dfae802200105354554e
        20746573742063 6c69656e74002400046e0001ff80290008932ff9b1
        51263b36000600096576746a3a68367659202020000800149aeaa70c
        bfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf"""),
    "rfc5769-response-ipv4": h("""
        0101003c2112a442b7e7a701bc34d686fa87dfae8022000b74657374
        20766563746f7220002000080001a147e112a643000800142b91f599
        fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96"""),
    "rfc5769-response-ipv6": h("""
        010100482112a442b7e7a701bc34d686fa87dfae8022000b74657374
        20766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5
        bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed41
        80280004c8fb0b4c"""),
    "rfc5769-long-term": h("""
        000100602112a44278ad3433c6ad72c029da412e00060012e3839ee3
        8388e383aae38383e382afe382b900000015001c662f2f3439396b39
        353464364f4c33346f4c39465354767936347341 0014000b6578616d
        706c652e6f726700 00080014f67024656dd64a3e02b8e0712e85c9a2
        8ca89666"""),
    # RFC 8489 B.1 as corrected (PASSWORD-ALGORITHM, length 0x90)
    "rfc8489-b1": h("""
        000100902112a44278ad3433c6ad72c029da412e001e00204a3cf38f
        ef6992bda952c6780417da0f24819415569e60b205c46e41407f1704
        00150029""") + b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA\0\0\0"
    + h("0014000b") + b"example.org\0" + h("""
        001d000400020000001c0020b5c7bf005b6c52a21c51c5e892f81924
        136296cb927c43149309278cc6518e65"""),
    # ChannelData (RFC 8656 s12.4)
    "chandata-empty": h("40000000"),
    "chandata-hello-padded": h("40010005") + b"hello\0\0\0",
    "chandata-unpadded": h("4fff0001") + b"x",
    "chandata-rtp": h("4abc000c 80e0000100000001deadbeef"),
    # malformed rows
    "bad-top-bits": h("80010000") + COOKIE_TID,
    "bad-length-align": h("00010002") + COOKIE_TID + b"\0\0",
    "bad-attr-truncated": h("00010008") + COOKIE_TID + h("00060005") + b"abcd",
    "bad-after-fingerprint": h("00010010") + COOKIE_TID
    + h("80280004 00000000 80220000 80220000"),
    "bad-lifetime-len": h("00010008") + COOKIE_TID + h("000d0002 00000000"),
    "bad-channel": h("50000004") + b"abcd",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    stream = b"".join(SEEDS[n] for n in (
        "rfc5769-response-ipv4", "chandata-hello-padded", "chandata-empty",
        "rfc5769-request", "chandata-rtp"))
    with open(os.path.join(OUT, "stream-mixed"), "wb") as f:
        f.write(stream)


if __name__ == "__main__":
    main()
