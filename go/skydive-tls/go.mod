module skydive-tls

go 1.19
