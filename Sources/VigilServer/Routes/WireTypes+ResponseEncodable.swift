import Hummingbird
import VigilAPI

// The wire types are answers of routes as they are: VigilAPI knows nothing
// of Hummingbird, so the conformances are declared here.
extension CameraState: ResponseGenerator, ResponseEncodable {}
extension Capture: ResponseGenerator, ResponseEncodable {}
extension CaptureActivity: ResponseGenerator, ResponseEncodable {}
extension MotionEvent: ResponseGenerator, ResponseEncodable {}
extension MotionStatus: ResponseGenerator, ResponseEncodable {}
extension Session: ResponseGenerator, ResponseEncodable {}
extension PushedFrame: ResponseGenerator, ResponseEncodable {}
extension Identity: ResponseGenerator, ResponseEncodable {}
extension Readiness: ResponseGenerator, ResponseEncodable {}
extension BrokerStatus: ResponseGenerator, ResponseEncodable {}
