// PublicKey: PEM "PUBLIC KEY" files through OpenSSL's EVP interface (keys.h has the contract).
#include "runguard/attest/keys.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runguard/attest/limits.h"
#include "runguard/common/base64.h"

namespace runguard::attest {
namespace {

constexpr int kMinRsaBits = 2048;
// OpenSSL's own ceiling (OPENSSL_RSA_MAX_MODULUS_BITS); above it verification always fails, so
// such a key is refused at load time rather than failing every signature later.
constexpr int kMaxRsaBits = 16384;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PemFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// The first line of OpenSSL's error queue (then the queue is cleared), for load errors.
std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status refuse(const std::string& source, const std::string& why) { return invalid("key " + source + ": " + why); }

// Why a PEM block named `name` is not a usable key, and what to give instead.
std::string wrong_block(const std::string& name) {
  if (name.find("PRIVATE KEY") != std::string::npos) {
    return "is a private key (PEM \"" + name +
           "\"): give the public key only, e.g. `openssl pkey -in KEY -pubout` or cosign's .pub file";
  }
  if (name.find("CERTIFICATE") != std::string::npos) {
    return "is a certificate (PEM \"" + name +
           "\"): certificates are not supported as trusted keys; extract the key with `openssl x509 -pubkey -noout`";
  }
  if (name == "RSA PUBLIC KEY") {
    return "is a PKCS#1 \"RSA PUBLIC KEY\": convert it to a SubjectPublicKeyInfo \"PUBLIC KEY\" with "
           "`openssl rsa -RSAPublicKey_in -pubout`";
  }
  return "is a PEM \"" + name + "\" block, not a \"PUBLIC KEY\"";
}

Result<KeyType> classify(EVP_PKEY* pkey, const std::string& source) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(pkey);
      if (bits < kMinRsaBits) {
        return refuse(source, "RSA key of " + std::to_string(bits) + " bits is too weak: at least " +
                                  std::to_string(kMinRsaBits) + " bits are required");
      }
      if (bits > kMaxRsaBits) {
        return refuse(source, "RSA key of " + std::to_string(bits) + " bits is above OpenSSL's limit of " +
                                  std::to_string(kMaxRsaBits));
      }
      return KeyType::kRsa;
    }
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
        ERR_clear_error();
        return refuse(source, "EC key with explicit or unnamed curve parameters: only P-256 and P-384 are supported");
      }
      std::string name(group, len);
      if (name == "prime256v1" || name == "P-256" || name == "secp256r1") return KeyType::kEcdsaP256;
      if (name == "secp384r1" || name == "P-384") return KeyType::kEcdsaP384;
      return refuse(source, "EC curve " + name + " is not supported: only P-256 and P-384");
    }
    case EVP_PKEY_RSA_PSS:
      return refuse(source, "RSA-PSS-restricted key (OID rsassaPss) is not supported: give an rsaEncryption key");
    default:
      return refuse(source, "unsupported key algorithm " + std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(pkey))) +
                                ": use ECDSA P-256/P-384, Ed25519 or RSA >= 2048 bits");
  }
}

bool set_pss(EVP_PKEY_CTX* pctx) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
}

// One EVP_DigestVerify with `md` (nullptr for Ed25519) and, for RSA, PKCS#1 v1.5 or PSS padding.
bool verify_once(EVP_PKEY* pkey, const EVP_MD* md, bool pss, std::string_view message, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) return false;
  if (pss && !set_pss(pctx)) return false;
  if (!pss && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

}  // namespace

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::kEcdsaP256: return "ecdsa-p256";
    case KeyType::kEcdsaP384: return "ecdsa-p384";
    case KeyType::kEd25519: return "ed25519";
    case KeyType::kRsa: return "rsa";
  }
  return "unknown";
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem, const std::string& source) {
  if (pem.size() > kMaxKeyBytes) {
    return refuse(source, std::to_string(pem.size()) + " bytes, above the limit of " + std::to_string(kMaxKeyBytes) + " bytes");
  }
  if (pem.find("-----BEGIN ") == std::string_view::npos) {
    return refuse(source, "not a PEM file (no \"-----BEGIN PUBLIC KEY-----\" line)");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status(Code::kInternal, "key " + source + ": " + openssl_error());
  char* raw_name = nullptr;
  char* raw_header = nullptr;
  unsigned char* raw_data = nullptr;
  long len = 0;
  int ok = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &len);
  std::unique_ptr<void, PemFree> name_owner(raw_name), header_owner(raw_header), data_owner(raw_data);
  if (ok != 1) return refuse(source, "cannot read PEM: " + openssl_error());
  std::string name = raw_name ? raw_name : "";
  if (name != "PUBLIC KEY") return refuse(source, wrong_block(name));
  if (raw_header != nullptr && raw_header[0] != '\0') return refuse(source, "PEM headers (an encrypted block?) are not supported");
  // A second block (a key and a certificate, or two keys) makes "which key is trusted" ambiguous.
  std::string_view rest(pem.substr(pem.size() - static_cast<size_t>(BIO_pending(bio.get()))));
  if (rest.find("-----BEGIN ") != std::string_view::npos) {
    return refuse(source, "holds more than one PEM block: give one public key per file");
  }

  const unsigned char* p = raw_data;
  EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &p, len);
  if (pkey == nullptr) return refuse(source, "not a valid SubjectPublicKeyInfo: " + openssl_error());
  PublicKey key;
  key.key_ = std::shared_ptr<void>(pkey, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
  if (p != raw_data + len) return refuse(source, "trailing bytes after the SubjectPublicKeyInfo");
  RG_ASSIGN_OR_RETURN(key.type_, classify(pkey, source));

  // The id is over OpenSSL's re-encoding of the key, so two spellings of one key share an id. An
  // EC point keeps the form it was read in (compressed or not), so it is set to uncompressed first.
  if (key.type_ == KeyType::kEcdsaP256 || key.type_ == KeyType::kEcdsaP384) {
    if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
      return Status(Code::kInternal, "key " + source + ": cannot normalise the EC point: " + openssl_error());
    }
  }
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(pkey, &der);
  if (der_len <= 0) return Status(Code::kInternal, "key " + source + ": cannot encode: " + openssl_error());
  std::string der_bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  key.id_ = sha256_digest(der_bytes);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (key.id_.empty() || EVP_Digest(der_bytes.data(), der_bytes.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    return Status(Code::kInternal, "key " + source + ": sha256 failed: " + openssl_error());
  }
  key.hint_ = base64_encode(std::string_view(reinterpret_cast<const char*>(md), md_len));
  key.source_ = source;
  return key;
}

Result<PublicKey> PublicKey::from_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status(Code::kNotFound, "key " + path + ": no such file", err);
    return io_error("key " + path + ": open", err);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("key " + path + ": stat", errno);
  if (!S_ISREG(st.st_mode)) return invalid("key " + path + ": not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxKeyBytes) {
    return invalid("key " + path + ": " + std::to_string(st.st_size) + " bytes, above the limit of " +
                   std::to_string(kMaxKeyBytes) + " bytes");
  }
  std::string bytes;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("key " + path + ": read", errno);
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > kMaxKeyBytes) {
      return invalid("key " + path + ": above the limit of " + std::to_string(kMaxKeyBytes) + " bytes (it grew while read)");
    }
  }
  return from_pem(bytes, path);
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const {
  EVP_PKEY* pkey = static_cast<EVP_PKEY*>(key_.get());
  if (pkey == nullptr || signature.empty()) return false;
  bool ok = false;
  switch (type_) {
    case KeyType::kEcdsaP256: ok = verify_once(pkey, EVP_sha256(), false, message, signature); break;
    case KeyType::kEcdsaP384: ok = verify_once(pkey, EVP_sha384(), false, message, signature); break;
    case KeyType::kEd25519: ok = verify_once(pkey, nullptr, false, message, signature); break;
    case KeyType::kRsa:
      ok = verify_once(pkey, EVP_sha256(), false, message, signature);
      if (!ok) {
        ERR_clear_error();
        ok = verify_once(pkey, EVP_sha256(), true, message, signature);
      }
      break;
  }
  // A failed verify leaves entries in this thread's error queue; they must not leak into the next
  // OpenSSL call's error message.
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace runguard::attest
