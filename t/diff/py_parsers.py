#!/usr/bin/python3
"""Python's parsers as upstreams of the differential test.

    py_parsers.py PORT

/werkzeug/...   werkzeug (Flask's parser): request.files, request.form,
                request.get_data() when the body is no form
/cgi/...        the standard library's cgi.FieldStorage (nested multipart)
/multipart/...  python-multipart (Starlette, FastAPI): decodes base64 and
                quoted-printable parts; urlencoded values unquoted as
                Starlette does

Each answers 200 with one line per thing an application could store:
"sha256 where".  A parser that refuses the body answers 200 with no line
(it extracted nothing).
"""

import hashlib
import io
import sys
import urllib.parse
import warnings

warnings.filterwarnings('ignore')

import cgi  # noqa: E402  (deprecated, still what old apps use)

import multipart  # noqa: E402  (python3-multipart)
from werkzeug.serving import WSGIRequestHandler, run_simple  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402


def h(b):
    if isinstance(b, str):
        b = b.encode('latin-1', 'surrogateescape')
    return hashlib.sha256(b).hexdigest()


class LatinRequest(Request):
    # field values as the bytes that were sent, not lossy UTF-8
    charset = 'latin-1'


def werkzeug_parse(environ, out):
    req = LatinRequest(environ)
    for name, fs in req.files.items(multi=True):
        out.append('%s file:%s' % (h(fs.read()), name))
    for name, v in req.form.items(multi=True):
        out.append('%s form:%s' % (h(v), name))
    if not req.files and not req.form:
        out.append('%s data' % h(req.get_data()))


def cgi_walk(fs, where, out):
    if fs.list is not None:
        for i, f in enumerate(fs.list):
            cgi_walk(f, '%s.%d' % (where, i), out)
    elif fs.file is not None or fs.value is not None:
        v = fs.file.read() if fs.file is not None else fs.value
        out.append('%s %s' % (h(v), where))


def cgi_parse(environ, body, out):
    env = {k: v for k, v in environ.items() if isinstance(v, str)}
    env['REQUEST_METHOD'] = 'POST'
    fs = cgi.FieldStorage(fp=io.BytesIO(body), environ=env,
                          keep_blank_values=True, encoding='latin-1')
    cgi_walk(fs, 'cgi', out)


def pm_parse(environ, body, out):
    headers = {'Content-Type': environ.get('CONTENT_TYPE', ''),
               'Content-Length': str(len(body))}
    for k in ('HTTP_CONTENT_TRANSFER_ENCODING',):
        if k in environ:
            headers['Content-Transfer-Encoding'] = environ[k]

    form = 'urlencoded' in headers['Content-Type']

    def on_field(f):
        # as Starlette does: the parser hands urlencoded values over raw
        v = f.value or b''
        if form:
            v = urllib.parse.unquote_to_bytes(v.replace(b'+', b' '))
        out.append('%s field:%s' % (h(v), f.field_name))

    def on_file(f):
        f.file_object.seek(0)
        out.append('%s file:%s' % (h(f.file_object.read()), f.field_name))

    multipart.parse_form(headers, io.BytesIO(body), on_field, on_file)


def app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    out = []
    try:
        if path.startswith('/werkzeug'):
            werkzeug_parse(environ, out)
        else:
            n = int(environ.get('CONTENT_LENGTH') or 0)
            body = environ['wsgi.input'].read(n)
            if path.startswith('/cgi'):
                cgi_parse(environ, body, out)
            else:
                pm_parse(environ, body, out)
    except Exception as e:  # the parser refused the body: nothing stored
        out.append('# %s' % type(e).__name__)
    return Response('\n'.join(out) + '\n', mimetype='text/plain')(
        environ, start_response)


class Quiet(WSGIRequestHandler):
    def log_request(self, *a):
        pass


if __name__ == '__main__':
    run_simple('127.0.0.1', int(sys.argv[1]), app, threaded=True,
               request_handler=Quiet)
