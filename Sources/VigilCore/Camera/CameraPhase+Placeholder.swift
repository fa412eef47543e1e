import VigilAPI

extension CameraPhase {
    /// The text of the placeholder card shown while not live.
    public var placeholderReason: String? {
        switch self {
        case .live: return nil
        case .stopped: return "stopped"
        case .capturing: return "capturing"
        case .starting, .stale, .recovering: return "no signal"
        }
    }
}
