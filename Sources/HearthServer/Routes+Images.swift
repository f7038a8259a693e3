import Foundation
import HearthAPI
import HearthControlPlane
import HearthCore
import HearthIdentity
import HearthImages
import Hummingbird

/// `/v1/images`: the images a caller may use, and the operator's imports. Imports come only from
/// the configured import directory, by name; a tenant never names a host path.
struct ImageRoutes {
    let images: ImageStore
    let identity: IdentityStore
    let auditor: Auditor

    func register(on group: RouterGroup<HearthContext>) {
        group.get("images") { _, context in
            let caller = try context.caller()
            let visible = images.visibleImages(to: ImageCaller(tenantId: caller.tenantId, isOperator: caller.isOperator))
            return try json(API.ImageList(images: visible.map { API.ImageBody(id: "sha256:\($0)") }))
        }
        group.get("images/base") { _, context in
            _ = try context.caller()
            return try json(Self.status(images))
        }
        // Imports `oci:NAME` (if not already) and grants it to a tenant, or to every tenant.
        group.post("images") { request, context in
            let principal = try context.admin()
            guard principal.isOperator else { throw HearthError(.forbidden, "only the operator imports and shares images") }
            let body = try await request.decode(as: API.ImportImageBody.self, context: context)
            guard body.source.utf8.count <= 200 else { throw HearthError(.invalidArgument, "an image reference is at most 200 bytes") }
            let image = try await auditor.around(context, "image.import", target: body.source) {
                let image = try await images.resolve(body.source, for: ImageCaller(tenantId: principal.tenantId, isOperator: true))
                if let name = body.tenant {
                    guard let tenant = try identity.tenant(named: name) else { throw HearthError(.notFound, "no tenant \(name.prefix(64))") }
                    try images.grant(image, to: tenant.id)
                }
                if body.public == true { try images.publish(image) }
                return image
            }
            return try json(API.ImageBody(id: image.id), status: .created)
        }
    }

    /// What a create waiting for the base image would wait for. A built image found on disk is
    /// `ready` even before any build ran in this process.
    static func status(_ images: ImageStore) -> API.BaseImageStatus {
        switch images.baseBuild.phase {
        case .building(let since, let step):
            return API.BaseImageStatus(state: "building", step: step, elapsed_seconds: max(0, Date().timeIntervalSince(since)))
        case .failed(let message, _):
            return API.BaseImageStatus(state: "failed", message: message)
        case .ready(let id):
            return API.BaseImageStatus(state: "ready", image: id)
        case .idle:
            if let built = images.builtBaseImage() { return API.BaseImageStatus(state: "ready", image: built.id) }
            return API.BaseImageStatus(state: "idle")
        }
    }
}
