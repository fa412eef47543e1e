import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real nginx (Debian's) in front of `upstreams`, as the docs tell users
/// to run it before edge relays: round robin, HTTP/1.1 upstream, no
/// buffering. Its config, pid, logs and temp files live in a temp dir.
final class Nginx: @unchecked Sendable {
    let port: Int
    private let process = Process()

    init(dir: TempDir, upstreams: [Int]) throws {
        port = try freePort()
        let root = dir.file("nginx")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let servers = upstreams.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n")
        let config = """
            daemon off;
            master_process on;
            worker_processes 2;
            pid \(root)/nginx.pid;
            error_log \(root)/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path \(root)/body;
                proxy_temp_path \(root)/proxy;
                fastcgi_temp_path \(root)/fastcgi;
                uwsgi_temp_path \(root)/uwsgi;
                scgi_temp_path \(root)/scgi;
                upstream edges {
            \(servers)
                }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://edges;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                        proxy_read_timeout 1h;
                    }
                }
            }
            """
        let path = root + "/nginx.conf"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", root, "-e", root + "/error.log", "-c", path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let connection = try? HTTPConnection(port: port, timeout: 1) {
                connection.close()
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        let log = (try? String(contentsOfFile: root + "/error.log", encoding: .utf8)) ?? ""
        throw HTTPTestError(description: "nginx did not listen on \(port): \(log)")
    }

    /// SIGQUIT: a graceful stop of the master and its workers.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGQUIT)
        process.waitUntilExit()
    }

    deinit { stop() }
}
