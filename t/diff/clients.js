// Node's own FormData and fetch (undici) uploading a file, for the
// differential test: node clients.js FILE URL
'use strict';

const fs = require('fs');

(async () => {
    const [file, url] = process.argv.slice(2);
    const fd = new FormData();
    fd.append('note', 'hello');
    fd.append('up', new Blob([fs.readFileSync(file)]), 'clean.bin');
    const r = await fetch(url, { method: 'POST', body: fd });
    process.stdout.write(await r.text());
})().catch((e) => { console.error(e); process.exit(1); });
