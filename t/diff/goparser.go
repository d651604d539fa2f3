// Go's mime/multipart and net/http form parsing as an upstream of the
// differential test: one line per file and value the application gets,
// "sha256 where"; the raw body when it is no form.  As a client, Go's
// multipart writer uploading a file.
//
//	goparser PORT
//	goparser client FILE URL
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
)

func sum(b []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func handle(w http.ResponseWriter, r *http.Request) {
	var out []string
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ct := r.Header.Get("Content-Type")

	if err := r.ParseMultipartForm(1 << 30); err == nil {
		for name, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				f, err := fh.Open()
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(f)
				f.Close()
				out = append(out, sum(b)+" file:"+name)
			}
		}
		for name, vs := range r.MultipartForm.Value {
			for _, v := range vs {
				out = append(out, sum([]byte(v))+" value:"+name)
			}
		}
	} else if err := r.ParseForm(); err == nil && len(r.PostForm) > 0 {
		for name, vs := range r.PostForm {
			for _, v := range vs {
				out = append(out, sum([]byte(v))+" form:"+name)
			}
		}
	} else {
		out = append(out, "# "+strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
	}

	if !strings.HasPrefix(ct, "multipart/") {
		out = append(out, sum(body)+" body")
	}

	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, strings.Join(out, "\n"))
}

func client(path, url string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("note", "hello")
	fw, err := w.CreateFormFile("up", "clean.bin")
	if err != nil {
		return err
	}
	fw.Write(data)
	w.Close()
	resp, err := http.Post(url, w.FormDataContentType(), &body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "client" {
		if err := client(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	http.HandleFunc("/", handle)
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
