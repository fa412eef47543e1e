import Hummingbird

/// The request context of every route: Hummingbird's basics, with answers
/// encoded the way the whole API is (`WireJSON`).
struct VigilRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage

    init(source: Source) {
        coreContext = .init(source: source)
    }

    var responseEncoder: WireResponseEncoder { WireResponseEncoder() }
}
