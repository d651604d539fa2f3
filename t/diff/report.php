<?php
// PHP's own parser ($_FILES, $_POST, php://input) as an upstream of the
// differential test: one line per thing the application could store,
// "sha256 where", and nothing else.
$out = [];

function walk($v, $where, &$out) {
    if (is_array($v)) {
        foreach ($v as $k => $x) {
            walk($x, "$where.$k", $out);
        }
    } else {
        $out[] = hash('sha256', (string) $v) . " $where";
    }
}

foreach ($_FILES as $name => $f) {
    $tmp = is_array($f['tmp_name']) ? $f['tmp_name'] : [$f['tmp_name']];
    foreach ($tmp as $i => $t) {
        if ($t !== '' && is_file($t)) {
            $out[] = hash_file('sha256', $t) . " file:$name.$i";
        }
    }
}

walk($_POST, 'post', $out);

$raw = file_get_contents('php://input');
if ($raw !== '') {
    $out[] = hash('sha256', $raw) . ' input';
}

header('Content-Type: text/plain');
echo implode("\n", $out), "\n";
