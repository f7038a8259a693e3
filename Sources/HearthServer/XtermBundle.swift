import Foundation

/// xterm.js for the browser, assembled from Debian's `node-xterm` CommonJS modules.
///
/// Debian 12's `libjs-xterm` ships a broken `xterm.js` (a 288-byte stub that `require`s modules
/// it does not contain), so the server links the same version's modules itself: each file becomes
/// a function in one script, with a dozen-line `require`. No eval, no bundler, no network.
enum XtermBundle {
    static let moduleRoot = "/usr/share/nodejs/xterm/lib"
    /// Sizes the terminal to its element; without it every terminal stays 80x24.
    static let fitAddon = "addons/fit/fit"

    static let script: String? = {
        guard let walker = FileManager.default.enumerator(atPath: moduleRoot) else { return nil }
        var modules: [(String, String)] = []
        for case let relative as String in walker where relative.hasSuffix(".js") && !relative.hasSuffix(".test.js") {
            guard let source = try? String(contentsOfFile: moduleRoot + "/" + relative, encoding: .utf8) else { continue }
            modules.append((String(relative.dropLast(3)), source))
        }
        // lib/addons is a symlink into libjs-xterm, which the enumerator does not follow.
        if !modules.contains(where: { $0.0 == fitAddon }),
           let source = try? String(contentsOfFile: moduleRoot + "/" + fitAddon + ".js", encoding: .utf8) {
            modules.append((fitAddon, source))
        }
        guard modules.contains(where: { $0.0 == "public/Terminal" }) else { return nil }
        var out = """
            // xterm.js \(version ?? "") from Debian's node-xterm, linked by Hearth.
            (function () {
            'use strict';
            var defs = {}, cache = {};
            function resolve(base, name) {
              var parts = base.split('/'); parts.pop();
              name.split('/').forEach(function (p) { if (p === '..') parts.pop(); else if (p !== '.') parts.push(p); });
              return parts.join('/');
            }
            function load(id) {
              if (cache[id]) return cache[id].exports;
              var def = defs[id] || defs[id + '/index'];
              if (!def) throw new Error('xterm: no module ' + id);
              var module = cache[id] = { exports: {} };
              def(function (name) { return load(resolve(id, name)); }, module, module.exports);
              return module.exports;
            }

            """
        for (id, source) in modules.sorted(by: { $0.0 < $1.0 }) {
            out += "defs[\(jsonString(id))] = function (require, module, exports) {\n\(source)\n};\n"
        }
        out += """
            var Terminal = load('public/Terminal').Terminal;
            if (defs['\(fitAddon)']) Terminal.applyAddon(load('\(fitAddon)'));
            window.Terminal = Terminal;
            })();

            """
        return out
    }()

    static let version: String? = {
        guard let data = FileManager.default.contents(atPath: moduleRoot + "/../package.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["version"] as? String
    }()

    static func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
