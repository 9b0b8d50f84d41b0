#!/usr/bin/env python3
"""What a Python user runs today: Netcore's scheme with the `cryptography` package.

AES-256-CBC, PKCS7, key and IV as the UTF-8 bytes of CE_SECRET_KEY / CE_SECRET_IV,
standard Base64 output. Used only by scripts/compare.sh as the baseline.

    reference_encrypt.py FILE          # encrypt the whole file, print one line
    reference_encrypt.py --lines FILE  # one payload per non-empty line
"""
import base64
import os
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def encrypt(key: bytes, iv: bytes, payload: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(payload) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize())


def main() -> None:
    key = os.environ["CE_SECRET_KEY"].encode()
    iv = os.environ["CE_SECRET_IV"].encode()
    out = sys.stdout.buffer
    if sys.argv[1] == "--lines":
        with open(sys.argv[2], "rb") as f:
            for line in f:
                line = line.rstrip(b"\r\n")
                if line.strip():
                    out.write(encrypt(key, iv, line) + b"\n")
    else:
        with open(sys.argv[1], "rb") as f:
            out.write(encrypt(key, iv, f.read()) + b"\n")


if __name__ == "__main__":
    main()
