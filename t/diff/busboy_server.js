// busboy (what multer and fastify use) as an upstream of the differential
// test: one line per file and field it hands the application,
// "sha256 where"; the raw body when it is no multipart form.
//
//   node busboy_server.js PORT
'use strict';

const http = require('http');
const crypto = require('crypto');
const busboy = require('busboy');

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

http.createServer((req, res) => {
    const out = [];
    let sent = false;
    const done = () => {
        if (sent) {
            return;     // 'error' then 'close'
        }
        sent = true;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(out.join('\n') + '\n');
    };
    let bb;
    try {
        // latin1: field values come back as the bytes that were sent
        bb = busboy({ headers: req.headers, limits: { fieldSize: 1 << 30 },
                      defCharset: 'latin1', defParamCharset: 'utf8' });
    } catch (e) {
        // not multipart or urlencoded: the application reads the body
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => { out.push(sha(Buffer.concat(chunks)) + ' raw'); done(); });
        return;
    }
    bb.on('file', (name, stream) => {
        const chunks = [];
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => out.push(sha(Buffer.concat(chunks)) + ' file:' + name));
        // a file cut short: multer drops it
        stream.on('error', () => {});
    });
    bb.on('field', (name, value) => out.push(sha(Buffer.from(value, 'latin1')) + ' field:' + name));
    bb.on('close', done);
    bb.on('error', (e) => { out.push('# ' + e.message); req.unpipe(bb); req.resume(); done(); });
    req.pipe(bb);
}).listen(Number(process.argv[2]), '127.0.0.1');
