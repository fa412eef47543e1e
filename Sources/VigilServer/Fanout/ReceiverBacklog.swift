import NIOCore

/// What the kernel knows about how much of what was sent to a viewer it has
/// not taken yet, read from Linux's `TCP_INFO`.
///
/// A slow viewer's frames wait in three places: the server's send queue
/// (unsent), the network (sent, not acknowledged) and the viewer's receive
/// buffer (acknowledged, not yet read). The first two are counted here; the
/// third shows as the viewer's advertised receive window, which narrows as
/// its buffer fills and opens again as it reads. A viewer with nothing
/// unsent, nothing unacknowledged and its window at least half as wide as
/// the widest it has shown has taken (nearly) everything: a frame sent then
/// reaches it without waiting behind older ones.
struct ReceiverBacklog {
    /// The widest receive window the viewer has advertised; 0 until one is
    /// seen (kernels before 5.4 do not report it, and then only the send
    /// side counts).
    private var widestWindow: UInt32 = 0

    /// Whether the viewer has taken what was sent, given a fresh `TCP_INFO`.
    mutating func isDrained(_ info: KernelTCPInfo) -> Bool {
        widestWindow = max(widestWindow, info.sendWindow)
        guard info.notSentBytes == 0, info.unackedSegments == 0 else { return false }
        return info.sendWindow >= widestWindow / 2
    }
}

/// Linux's `struct tcp_info` as the kernel fills it. Glibc's copy of the
/// struct stops before the fields used here; the kernel's layout only ever
/// grows at the end, and a shorter answer from an older kernel leaves the
/// rest zero.
struct KernelTCPInfo: Sendable {
    private var words: InlineArray<58, UInt32>

    /// `tcpi_unacked`: segments sent and not yet acknowledged.
    var unackedSegments: UInt32 { words[6] }
    /// `tcpi_notsent_bytes`: bytes in the send queue not yet sent.
    var notSentBytes: UInt32 { words[36] }
    /// `tcpi_snd_wnd`: the receive window the peer last advertised.
    var sendWindow: UInt32 { words[57] }

    /// Reads it for `socket`; the future completes at once on the
    /// channel's event loop.
    static func read(_ socket: any SocketOptionProvider) -> EventLoopFuture<KernelTCPInfo> {
        socket.unsafeGetSocketOption(level: .tcp, name: .tcp_info)
    }
}
