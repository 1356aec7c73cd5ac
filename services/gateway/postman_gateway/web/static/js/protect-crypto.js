// Password-protected messages, in the browser: the same two formats as lib/postman_shared/protected_format.py, with
// WebCrypto only. Exposed as PostmanProtect on the page's window, or on the worker's global scope when loaded with
// importScripts (protect-worker.js).
//
// Version 1 (Postman's, read here only): key = PBKDF2-SHA256(password, UTF-8 of the message id, 4,000 iterations,
// 256 bits), used as the AES-GCM-256 key; payload = b64(ciphertext with its tag) + "." + b64(12-byte iv); the reader
// proves the password with b64(SHA-256(key)).
//
// Version 2 (made by this platform's officer page): master = PBKDF2-SHA256(password, 16 random bytes of salt,
// 600,000 iterations, 256 bits); HKDF-SHA256 (empty salt) of the master gives the AES-GCM-256 key (info "postman
// protect v2 encryption key") and an access token (info "postman protect v2 access token"); the ciphertext is bound
// to the message id (additional data "postman protect v2:" + id). The file holds accesshash = b64(SHA-256(token));
// the reader proves the password with b64(token), which opens nothing by itself.
//
// Base64 is standard base64 with padding throughout.
(function (root) {
  "use strict";
  var subtle = root.crypto && root.crypto.subtle;
  var encoder = new TextEncoder();
  var decoder = new TextDecoder("utf-8", { fatal: true });

  var V1_ITERATIONS = 4000;
  var V2_ITERATIONS = 600000;
  var V2_SALT_BYTES = 16;
  var IV_BYTES = 12;
  var TAG_BYTES = 16;
  var V2_ENCRYPTION_INFO = encoder.encode("postman protect v2 encryption key");
  var V2_ACCESS_INFO = encoder.encode("postman protect v2 access token");
  var V2_AAD_PREFIX = "postman protect v2:";
  var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  // A payload that is not b64(ciphertext).b64(iv), or that the key does not open.
  function BadPayload(message) {
    this.name = "BadPayload";
    this.message = message;
  }
  BadPayload.prototype = Object.create(Error.prototype);
  BadPayload.prototype.constructor = BadPayload;

  function bytesOf(data) {
    return data instanceof Uint8Array ? data : new Uint8Array(data);
  }

  function toBase64(data) {
    var bytes = bytesOf(data);
    var text = "";
    for (var start = 0; start < bytes.length; start += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000));
    }
    return root.btoa(text);
  }

  // Strict, as protected_format.unb64: the standard alphabet, padding required.
  function fromBase64(text) {
    if (typeof text !== "string" || !BASE64.test(text)) { throw new BadPayload("not base64"); }
    var binary = root.atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function randomBytes(count) {
    return root.crypto.getRandomValues(new Uint8Array(count));
  }

  // A lowercase uuid4, as the message ids are.
  function newMessageId() {
    if (typeof root.crypto.randomUUID === "function") { return root.crypto.randomUUID(); }
    var bytes = randomBytes(16);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (byte) { return (byte + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function splitPayload(payload) {
    var parts = typeof payload === "string" ? payload.split(".") : [];
    if (parts.length !== 2) {
      throw new BadPayload("the payload must be two base64 values joined by a dot: ciphertext.iv");
    }
    var ciphertext = fromBase64(parts[0]);
    var iv = fromBase64(parts[1]);
    if (iv.length !== IV_BYTES) { throw new BadPayload("the iv must be " + IV_BYTES + " bytes"); }
    if (ciphertext.length <= TAG_BYTES) {
      throw new BadPayload("the ciphertext is too short to hold a message and its tag");
    }
    return { ciphertext: ciphertext, iv: iv };
  }

  function checkIterations(iterations) {
    if (typeof iterations !== "number" || !isFinite(iterations) || iterations < 1 || Math.floor(iterations) !== iterations) {
      throw new Error("the number of iterations must be a whole number above 0");
    }
    return iterations;
  }

  function pbkdf2(password, salt, iterations) {
    return Promise.resolve().then(function () {
      return subtle.importKey("raw", encoder.encode(String(password)), "PBKDF2", false, ["deriveBits"]);
    })
      .then(function (material) {
        return subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: checkIterations(iterations) },
                                 material, 256);
      })
      .then(bytesOf);
  }

  function hkdf(master, info) {
    return subtle.importKey("raw", master, "HKDF", false, ["deriveBits"])
      .then(function (material) {
        return subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: info }, material, 256);
      })
      .then(bytesOf);
  }

  function aesKey(raw, usages) {
    return subtle.importKey("raw", raw, { name: "AES-GCM" }, false, usages);
  }

  function sha256(bytes) {
    return subtle.digest("SHA-256", bytes).then(bytesOf);
  }

  function decrypt(key, payload, additionalData) {
    var parts;
    try { parts = splitPayload(payload); } catch (error) { return Promise.reject(error); }
    var algorithm = { name: "AES-GCM", iv: parts.iv };
    if (additionalData) { algorithm.additionalData = additionalData; }
    return subtle.decrypt(algorithm, key, parts.ciphertext).then(
      function (plain) {
        try { return decoder.decode(plain); } catch (error) { throw new BadPayload("the message is not UTF-8 text"); }
      },
      function () { throw new BadPayload("the password does not open this message"); });
  }

  function encrypt(key, message, additionalData, iv) {
    var algorithm = { name: "AES-GCM", iv: iv };
    if (additionalData) { algorithm.additionalData = additionalData; }
    return subtle.encrypt(algorithm, key, encoder.encode(message)).then(function (ciphertext) {
      return toBase64(ciphertext) + "." + toBase64(iv);
    });
  }

  // -- Version 1 (Postman) ----------------------------------------------------------------------------------------

  // {proof, open(payload) -> Promise of the message}: one derivation serves both.
  function v1Unlock(password, messageId, iterations) {
    var raw;
    return pbkdf2(password, encoder.encode(messageId), iterations || V1_ITERATIONS)
      .then(function (bytes) { raw = bytes; return Promise.all([sha256(raw), aesKey(raw, ["decrypt"])]); })
      .then(function (results) {
        var key = results[1];
        return { proof: toBase64(results[0]), open: function (payload) { return decrypt(key, payload, null); } };
      });
  }

  function v1Proof(password, messageId, iterations) {
    return v1Unlock(password, messageId, iterations).then(function (unlocked) { return unlocked.proof; });
  }

  function v1Open(payload, password, messageId, iterations) {
    return v1Unlock(password, messageId, iterations).then(function (unlocked) { return unlocked.open(payload); });
  }

  // -- Version 2 (this platform) ----------------------------------------------------------------------------------

  function v2Aad(messageId) {
    return encoder.encode(V2_AAD_PREFIX + messageId);
  }

  // {encryptionKey (raw bytes), accessToken (raw bytes)}; salt: bytes or base64.
  function v2Keys(password, salt, iterations) {
    return Promise.resolve().then(function () {
      var saltBytes = typeof salt === "string" ? fromBase64(salt) : bytesOf(salt);
      return pbkdf2(password, saltBytes, iterations || V2_ITERATIONS);
    }).then(function (master) {
      return Promise.all([hkdf(master, V2_ENCRYPTION_INFO), hkdf(master, V2_ACCESS_INFO)]);
    }).then(function (keys) { return { encryptionKey: keys[0], accessToken: keys[1] }; });
  }

  // {payload, accesshash, salt (base64), iterations}; options (for tests): salt, iv (bytes), iterations.
  function v2Seal(message, password, messageId, options) {
    options = options || {};
    var salt = options.salt ? bytesOf(options.salt) : randomBytes(V2_SALT_BYTES);
    var iv = options.iv ? bytesOf(options.iv) : randomBytes(IV_BYTES);
    var iterations = options.iterations || V2_ITERATIONS;
    if (iv.length !== IV_BYTES) { return Promise.reject(new Error("the iv must be " + IV_BYTES + " bytes")); }
    if (salt.length < V2_SALT_BYTES) { return Promise.reject(new Error("the salt must be at least " + V2_SALT_BYTES + " bytes")); }
    return v2Keys(password, salt, iterations).then(function (keys) {
      return Promise.all([
        aesKey(keys.encryptionKey, ["encrypt"]).then(function (key) { return encrypt(key, message, v2Aad(messageId), iv); }),
        sha256(keys.accessToken)
      ]);
    }).then(function (results) {
      return { payload: results[0], accesshash: toBase64(results[1]), salt: toBase64(salt), iterations: iterations };
    });
  }

  // {proof, open(payload) -> Promise of the message}; salt base64 (or bytes).
  function v2Unlock(password, messageId, salt, iterations) {
    return v2Keys(password, salt, iterations).then(function (keys) {
      return aesKey(keys.encryptionKey, ["decrypt"]).then(function (key) {
        return {
          proof: toBase64(keys.accessToken),
          open: function (payload) { return decrypt(key, payload, v2Aad(messageId)); }
        };
      });
    });
  }

  function v2Proof(password, messageId, salt, iterations) {
    return v2Unlock(password, messageId, salt, iterations).then(function (unlocked) { return unlocked.proof; });
  }

  function v2Open(payload, password, messageId, salt, iterations) {
    return v2Unlock(password, messageId, salt, iterations).then(function (unlocked) { return unlocked.open(payload); });
  }

  // Either version, from what the recipient's page is given: kdf = {salt, iterations} (v1: the salt is the id).
  function unlock(version, password, messageId, kdf) {
    kdf = kdf || {};
    if (Number(version) === 1) { return v1Unlock(password, messageId, kdf.iterations || V1_ITERATIONS); }
    if (Number(version) === 2) { return v2Unlock(password, messageId, kdf.salt, kdf.iterations); }
    return Promise.reject(new Error("unknown version " + version));
  }

  root.PostmanProtect = {
    supported: Boolean(subtle && root.crypto.getRandomValues),
    V1_ITERATIONS: V1_ITERATIONS,
    V2_ITERATIONS: V2_ITERATIONS,
    BadPayload: BadPayload,
    toBase64: toBase64,
    fromBase64: fromBase64,
    newMessageId: newMessageId,
    v1Unlock: v1Unlock,
    v1Proof: v1Proof,
    v1Open: v1Open,
    v2Seal: v2Seal,
    v2Unlock: v2Unlock,
    v2Proof: v2Proof,
    v2Open: v2Open,
    unlock: unlock
  };
})(typeof self !== "undefined" ? self : this);
