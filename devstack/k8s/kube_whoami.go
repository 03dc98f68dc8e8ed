// kube-whoami asks the API server whom the pod's service-account token names (a
// SelfSubjectReview), verifying the server against the pod's own CA bundle.  Built into the
// real node's test image (devstack/probe_image.py): busybox's wget cannot complete a TLS
// handshake with the API server, and the test should prove the full path a workload takes.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount/"

func main() {
	token := read("token")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read("ca.crt")) {
		fail(fmt.Errorf("no certificate in %sca.crt", serviceAccount))
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := fmt.Sprintf("https://%s:%s/apis/authentication.k8s.io/v1/selfsubjectreviews",
		os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	request, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		fail(err)
	}
	request.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	request.Header.Set("Content-Type", "application/json")
	response, err := client.Do(request)
	if err != nil {
		fail(err)
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(response.Body)
	fmt.Printf("%s\n%s\n", response.Status, answer)
	if response.StatusCode/100 != 2 {
		os.Exit(1)
	}
}

func read(name string) []byte {
	data, err := os.ReadFile(serviceAccount + name)
	if err != nil {
		fail(err)
	}
	return data
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kube-whoami:", err)
	os.Exit(2)
}
