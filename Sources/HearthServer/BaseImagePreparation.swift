import HearthCore
import HearthImages
import Logging
import ServiceLifecycle

/// Builds the base image at `hearth serve`'s start when it is missing, in the background: a first
/// create made meanwhile joins this build (one mmdebstrap, `BaseImageBuild`) and waits only for
/// what remains, and `GET /v1/images/base` shows its step. Shutdown cancels the build.
struct BaseImagePreparation: Service {
    let images: ImageStore
    let logger: Logger

    func run() async throws {
        if images.builtBaseImage() == nil {
            logger.notice("preparing the base image in the background; a first create waits for it (GET /v1/images/base shows the step)")
            await withGracefulShutdownHandler {
                do {
                    let image = try await images.base()
                    logger.notice("base image ready", metadata: ["image.id": "\(image.id)"])
                } catch {
                    logger.warning("the base image could not be prepared; a create will try again", metadata: ["error": "\(error)"])
                }
            } onGracefulShutdown: {
                images.baseBuild.cancel()
            }
        }
        // A service that returned would end the server's group: wait for shutdown instead.
        try? await gracefulShutdown()
    }
}
