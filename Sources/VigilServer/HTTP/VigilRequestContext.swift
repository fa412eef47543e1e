import Hummingbird
import NIOCore
import VigilAPI

/// The request context of every route: Hummingbird's basics, the client's
/// address (for lockouts) and who it turned out to be, with answers encoded
/// the way the whole API is (`WireJSON`).
struct VigilRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// Set by `AccessMiddleware` once the request's credential is checked.
    var identity: Identity?

    init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var responseEncoder: WireResponseEncoder { WireResponseEncoder() }
}
