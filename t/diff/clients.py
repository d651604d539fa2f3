#!/usr/bin/python3
"""Real Python clients uploading a file, for the differential test.

    clients.py python FILE URL

posts FILE with requests (multipart/form-data, as urllib3 frames it) and
with the standard library's urllib and email.generator (a form built by
email.mime, 8bit, no transfer encoding); prints what the server answered
to each.
"""

import sys
import urllib.request
from email.generator import BytesGenerator
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.policy import HTTP
from email import encoders
import io

import requests


def via_requests(path, url):
    with open(path, 'rb') as f:
        r = requests.post(url, data={'note': 'hello'},
                          files={'up': ('clean.bin', f)})
    return r.text


def via_email(path, url):
    msg = MIMEMultipart('form-data')
    with open(path, 'rb') as f:
        part = MIMEApplication(f.read(), _encoder=encoders.encode_noop)
    part.add_header('Content-Disposition', 'form-data', name='up',
                    filename='clean.bin')
    msg.attach(part)
    buf = io.BytesIO()
    BytesGenerator(buf, policy=HTTP).flatten(msg)
    raw = buf.getvalue()
    head, body = raw.split(b'\r\n\r\n', 1)
    ctype = msg['Content-Type'].replace('\r\n', '').replace('\n', '')
    req = urllib.request.Request(url, data=body,
                                 headers={'Content-Type': ctype})
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


if __name__ == '__main__':
    _, _, path, url = sys.argv
    print(via_requests(path, url))
    print(via_email(path, url))
