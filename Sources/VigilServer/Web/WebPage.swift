import Hummingbird
import NIOCore

/// The web page served at `/`: plain HTML, CSS and JavaScript, no build step.
/// The files (`index.html`, `app.js`, `style.css` beside this one) are
/// embedded in the binary at build time, so Vigil still ships as one file.
///
///
/// It renders only what the server says. `/api/v1/events` gives a `hello`
/// (every camera's state) on each connect and a versioned `state` event on
/// every change; `/api/v1/live` carries the frames of every camera on one
/// socket (browsers allow six connections per host, a wall of cameras needs
/// more). Both sockets reconnect forever with capped, jittered backoff; after
/// every reconnect the page is rebuilt from `hello`, so a restart of the
/// server, another tab or the API can never leave a stale button behind.
/// Start/Stop are enabled from `desired` alone; clicking one sends the
/// request and waits for the server's event to change the page.
enum WebPage {
    struct File {
        let path: String
        let contentType: String
        let bytes: ByteBuffer
    }

    static let files = [
        File(path: "/", contentType: "text/html; charset=utf-8", bytes: ByteBuffer(bytes: PackageResources.index_html)),
        File(
            path: "/app.js", contentType: "text/javascript; charset=utf-8",
            bytes: ByteBuffer(bytes: PackageResources.app_js)),
        File(
            path: "/style.css", contentType: "text/css; charset=utf-8",
            bytes: ByteBuffer(bytes: PackageResources.style_css)),
    ]

    static func register<Context: RequestContext>(on router: Router<Context>) {
        for file in files {
            router.get(RouterPath(stringLiteral: file.path)) { _, _ in
                // Revalidated on every load: a new binary's page is never mixed with an old script.
                Response(
                    status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: file.bytes))
            }
        }
    }
}
