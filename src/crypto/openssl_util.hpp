// src/crypto/openssl_util.hpp — RAII aliases and error reporting shared by src/crypto/*.cpp.
// Private to src/crypto/: nothing outside this directory sees OpenSSL ownership rules.
#pragma once

#include <certcli/crypto.hpp>
#include <certcli/error.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

namespace certcli::crypto::detail {

// OPENSSL_free and sk_*_pop_free are macros, so they need a real function to be a template
// argument of Deleter.
void free_openssl_string(void* p);
void free_extension_stack(STACK_OF(X509_EXTENSION)* stack);
void free_x509_stack(STACK_OF(X509)* stack);

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<free_extension_stack>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<free_x509_stack>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Deleter<ASN1_STRING_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using OsslStringPtr = std::unique_ptr<char, Deleter<free_openssl_string>>;
using Utf8Ptr = std::unique_ptr<unsigned char, Deleter<free_openssl_string>>;

// Drains OpenSSL's thread-local error queue into one line, so a failure is not blamed on the
// next, unrelated call that happens to inspect the queue.
std::string drain_openssl_errors();

// An Error{crypto} whose message ends with whatever OpenSSL reported.
[[noreturn]] void throw_openssl(const std::string& what, std::string hint = {});

// A memory BIO that reads `bytes` without copying; `bytes` must outlive it.
BioPtr read_bio(std::string_view bytes);
BioPtr write_bio();
// The first certificate of PEM text; Error{crypto} when there is none or it is malformed.
X509Ptr first_certificate(std::string_view pem);
// Everything written into a memory BIO.
std::string bio_contents(BIO* bio);

}  // namespace certcli::crypto::detail
