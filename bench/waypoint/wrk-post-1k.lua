-- wrk request for the loopback comparison (bench/waypoint/loopback.ts): POST with a 1 KiB body.
wrk.method = "POST"
wrk.body = string.rep("a", 1024)
wrk.headers["content-type"] = "application/octet-stream"
wrk.headers["host"] = "echo"
