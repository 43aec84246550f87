// secrets/wire.h: the requests and replies between the runtime, runguardd and the helper. Round
// trips, every field's type checked, counts and sizes bounded, and no error message that quotes
// a value (it travels base64-encoded; a bad one is named by position only).

#include "runguard/secrets/wire.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "runguard/common/base64.h"
#include "../policy/policy_test_util.h"

namespace runguard::secrets {
namespace {

using rgtest::parse;  // the project's JSON-literal parser for tests

FetchRequest sample_request() {
  FetchRequest r;
  r.container = "c1";
  r.k8s_namespace = "payments";
  r.secrets = {{"db", "vault:kv/data/app/db?version=2#password"}, {"ca.pem", "vault:pki/ca#certificate"}};
  r.kubernetes_token_file = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~projected/kube-api-access/token";
  return r;
}

TEST(SecretsWire, FetchRequestRoundTrips) {
  FetchRequest r = sample_request();
  Json j = fetch_request_to_json(r);
  EXPECT_EQ(j, parse(R"({"container":"c1","namespace":"payments","secrets":[
      {"name":"db","ref":"vault:kv/data/app/db?version=2#password"},{"name":"ca.pem","ref":"vault:pki/ca#certificate"}],
      "kubernetesTokenFile":"/var/lib/kubelet/pods/u/volumes/kubernetes.io~projected/kube-api-access/token"})"));
  auto back = fetch_request_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->container, r.container);
  EXPECT_EQ(back->k8s_namespace, r.k8s_namespace);
  EXPECT_EQ(back->kubernetes_token_file, r.kubernetes_token_file);
  ASSERT_EQ(back->secrets.size(), 2u);
  EXPECT_EQ(back->secrets[1].name, "ca.pem");
  EXPECT_EQ(back->secrets[1].ref, "vault:pki/ca#certificate");
}

TEST(SecretsWire, FetchRequestWithoutTokenFileOmitsIt) {
  FetchRequest r = sample_request();
  r.kubernetes_token_file.clear();
  r.secrets.clear();
  Json j = fetch_request_to_json(r);
  EXPECT_FALSE(j.contains("kubernetesTokenFile"));
  EXPECT_EQ(j["secrets"], Json::array());
  auto back = fetch_request_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_TRUE(back->secrets.empty());
  EXPECT_EQ(back->kubernetes_token_file, "");
}

TEST(SecretsWire, FetchRequestAtTheCountLimit) {
  FetchRequest r;
  r.container = "c";
  for (size_t i = 0; i < kMaxSecrets; ++i) r.secrets.push_back({"s" + std::to_string(i), "vault:kv/x"});
  auto back = fetch_request_from_json(fetch_request_to_json(r));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->secrets.size(), kMaxSecrets);
}

struct BadJson {
  const char* name;
  Json doc;
  const char* why;
};
void PrintTo(const BadJson& c, std::ostream* os) { *os << c.name; }

Json many(size_t n, const Json& item) {
  Json a = Json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(item);
  return a;
}

class FetchRequestBadTest : public ::testing::TestWithParam<BadJson> {};

TEST_P(FetchRequestBadTest, IsRefused) {
  auto r = fetch_request_from_json(GetParam().doc);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("secrets request", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
}

const Json kRequestItem = {{"name", "a"}, {"ref", "vault:kv/a"}};

INSTANTIATE_TEST_SUITE_P(
    SecretsWire, FetchRequestBadTest,
    ::testing::Values(
        BadJson{"array", Json::array(), "expected an object, not array"},
        BadJson{"null", Json(), "expected an object, not null"},
        BadJson{"no_container", Json{{"secrets", Json::array()}}, "\"container\" is missing"},
        BadJson{"container_number", Json{{"container", 5u}, {"secrets", Json::array()}}, "\"container\" must be a string, not number"},
        BadJson{"namespace_bool", Json{{"container", "c"}, {"namespace", true}, {"secrets", Json::array()}}, "\"namespace\" must be a string"},
        BadJson{"token_file_number", Json{{"container", "c"}, {"kubernetesTokenFile", 1u}, {"secrets", Json::array()}},
                "\"kubernetesTokenFile\" must be a string"},
        BadJson{"no_secrets", Json{{"container", "c"}}, "\"secrets\" must be an array"},
        BadJson{"secrets_object", Json{{"container", "c"}, {"secrets", Json::object()}}, "\"secrets\" must be an array"},
        BadJson{"too_many", Json{{"container", "c"}, {"secrets", many(kMaxSecrets + 1, kRequestItem)}}, "65 entries in \"secrets\" (at most 64)"},
        BadJson{"item_string", Json{{"container", "c"}, {"secrets", Json::array({"a"})}}, "secrets[0]: expected an object"},
        BadJson{"item_no_name", Json{{"container", "c"}, {"secrets", Json::array({kRequestItem, Json{{"ref", "x"}}})}},
                "secrets[1]: \"name\" is missing"},
        BadJson{"item_no_ref", Json{{"container", "c"}, {"secrets", Json::array({Json{{"name", "x"}}})}}, "secrets[0]: \"ref\" is missing"},
        BadJson{"item_ref_array", Json{{"container", "c"}, {"secrets", Json::array({Json{{"name", "x"}, {"ref", Json::array()}}})}},
                "secrets[0]: \"ref\" must be a string, not array"}),
    [](const auto& info) { return std::string(info.param.name); });

std::vector<FetchedSecret> sample_fetched() {
  FetchedSecret a;
  a.name = "db";
  a.value = "hunter2";
  FetchedSecret b;
  b.name = "creds";
  b.value = std::string("{\"password\":\"p\0\xff\"}", 19);
  b.lease_id = "database/creds/ro/AbCd";
  b.lease_duration = 3600;
  b.renewable = true;
  FetchedSecret c;
  c.name = "empty";
  return {a, b, c};
}

TEST(SecretsWire, FetchedRoundTripsBinaryValues) {
  auto in = sample_fetched();
  Json j = fetched_to_json(in);
  EXPECT_EQ(j["secrets"][0]["value"], base64_encode("hunter2"));
  EXPECT_EQ(j.dump().find("hunter2"), std::string::npos) << "values travel encoded";
  EXPECT_EQ(j["secrets"][1]["leaseId"], "database/creds/ro/AbCd");
  EXPECT_EQ(j["secrets"][1]["leaseDuration"], 3600);
  EXPECT_EQ(j["secrets"][1]["renewable"], true);
  auto out = fetched_from_json(j);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ((*out)[i].name, in[i].name);
    EXPECT_EQ((*out)[i].value, in[i].value) << i;
    EXPECT_EQ((*out)[i].lease_id, in[i].lease_id);
    EXPECT_EQ((*out)[i].lease_duration, in[i].lease_duration);
    EXPECT_EQ((*out)[i].renewable, in[i].renewable);
  }
}

TEST(SecretsWire, FetchedOptionalFieldsDefault) {
  auto out = fetched_from_json(parse(R"({"secrets":[{"name":"a","value":"eA=="}]})"));
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].value, "x");
  EXPECT_EQ((*out)[0].lease_id, "");
  EXPECT_EQ((*out)[0].lease_duration, 0);
  EXPECT_FALSE((*out)[0].renewable);
}

TEST(SecretsWire, FetchedUrlSafeBase64IsAccepted) {
  auto out = fetched_from_json(parse(R"({"secrets":[{"name":"a","value":"-_8"}]})"));
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ((*out)[0].value, "\xfb\xff");
}

TEST(SecretsWire, ValueAtTheSizeLimitRoundTrips) {
  FetchedSecret s;
  s.name = "big";
  s.value.assign(kMaxValueBytes, 'v');
  auto out = fetched_from_json(fetched_to_json({s}));
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ((*out)[0].value.size(), kMaxValueBytes);
}

class FetchedBadTest : public ::testing::TestWithParam<BadJson> {};

TEST_P(FetchedBadTest, IsRefused) {
  auto r = fetched_from_json(GetParam().doc);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("secrets reply", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
}

Json reply_with(const Json& item) { return Json{{"secrets", Json::array({item})}}; }
const Json kGoodItem = {{"name", "a"}, {"value", "eA=="}};
Json item_with(const std::string& key, const Json& v) {
  Json i = kGoodItem;
  i[key] = v;
  return i;
}

INSTANTIATE_TEST_SUITE_P(
    SecretsWire, FetchedBadTest,
    ::testing::Values(BadJson{"string", Json("x"), "expected an object, not string"},
                      BadJson{"no_secrets", Json::object(), "\"secrets\" must be an array"},
                      BadJson{"too_many", Json{{"secrets", many(kMaxSecrets + 1, kGoodItem)}}, "(at most 64)"},
                      BadJson{"item_number", reply_with(5u), "secrets[0]: expected an object"},
                      BadJson{"no_name", reply_with(Json{{"value", "eA=="}}), "secrets[0]: \"name\" is missing"},
                      BadJson{"no_value", reply_with(Json{{"name", "a"}}), "secrets[0]: \"value\" is missing"},
                      BadJson{"value_number", reply_with(item_with("value", 1u)), "\"value\" must be a string, not number"},
                      BadJson{"value_not_base64", reply_with(item_with("value", "not base64!")), "secrets[0]: value is not valid base64"},
                      BadJson{"value_too_large", reply_with(item_with("value", std::string(kMaxValueBytes / 3 * 4 + 8, 'A'))),
                              "value larger than 262144 bytes"},
                      BadJson{"lease_id_number", reply_with(item_with("leaseId", 3u)), "\"leaseId\" must be a string"},
                      BadJson{"lease_duration_negative", reply_with(item_with("leaseDuration", -1)), "leaseDuration must be a non-negative integer"},
                      BadJson{"lease_duration_float", reply_with(item_with("leaseDuration", 1.5)), "leaseDuration must be a non-negative integer"},
                      BadJson{"lease_duration_string", reply_with(item_with("leaseDuration", "60")), "leaseDuration must be a non-negative integer"},
                      BadJson{"renewable_string", reply_with(item_with("renewable", "true")), "renewable must be a boolean"},
                      BadJson{"renewable_number", reply_with(item_with("renewable", 1u)), "renewable must be a boolean"}),
    [](const auto& info) { return std::string(info.param.name); });

// A reply is decoded where errors are logged: a bad value is named by position, never quoted.
TEST(SecretsWire, BadValueIsNeverQuoted) {
  for (const std::string& encoded : {std::string("c3VwZXJzZWNyZXQtdmFsdWU!"), std::string("c3VwZXJzZWNyZXQtdmFsdWU-+"),
                                     std::string("c3VwZXJzZWNyZXQtdmFsdW"),  // 22 chars, bad trailing bits
                                     std::string("c3VwZXJzZWNyZXQtdmFsdWU=c3Vw")}) {
    auto r = fetched_from_json(reply_with(item_with("value", encoded)));
    ASSERT_FALSE(r.is_ok()) << encoded;
    EXPECT_EQ(r.status().message().find("c3VwZXJz"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("supersecret"), std::string::npos) << r.status().message();
  }
}

TEST(SecretsWire, RevokeRequestRoundTrips) {
  RevokeRequest r;
  r.container = "c1";
  r.leases = {"database/creds/ro/a", "database/creds/ro/b"};
  r.kubernetes_token_file = "/k/token";
  Json j = revoke_request_to_json(r);
  EXPECT_EQ(j, parse(R"({"container":"c1","leases":["database/creds/ro/a","database/creds/ro/b"],"kubernetesTokenFile":"/k/token"})"));
  auto back = revoke_request_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->container, "c1");
  EXPECT_EQ(back->leases, r.leases);
  EXPECT_EQ(back->kubernetes_token_file, "/k/token");

  r.kubernetes_token_file.clear();
  r.leases.clear();
  j = revoke_request_to_json(r);
  EXPECT_FALSE(j.contains("kubernetesTokenFile"));
  EXPECT_EQ(j["leases"], Json::array());
  ASSERT_TRUE(revoke_request_from_json(j).is_ok());
}

class RevokeBadTest : public ::testing::TestWithParam<BadJson> {};

TEST_P(RevokeBadTest, IsRefused) {
  auto r = revoke_request_from_json(GetParam().doc);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().rfind("secrets revoke request", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    SecretsWire, RevokeBadTest,
    ::testing::Values(BadJson{"array", Json::array(), "expected an object"},
                      BadJson{"no_container", Json{{"leases", Json::array()}}, "\"container\" is missing"},
                      BadJson{"no_leases", Json{{"container", "c"}}, "\"leases\" must be an array"},
                      BadJson{"lease_number", Json{{"container", "c"}, {"leases", Json::array({"a", 2u})}}, "leases[1] must be a string"},
                      BadJson{"too_many", Json{{"container", "c"}, {"leases", many(kMaxSecrets + 1, "l")}}, "(at most 64)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SecretsWire, WipeClearsValuesAndZeroesTheirBytes) {
  auto secrets = sample_fetched();
  secrets[0].value.assign(4096, 'S');  // on the heap: clear() keeps the buffer, so it can be inspected
  const char* buffer = secrets[0].value.data();
  size_t capacity = secrets[0].value.capacity();
  wipe(secrets);
  for (const auto& s : secrets) EXPECT_TRUE(s.value.empty()) << s.name;
  EXPECT_EQ(secrets[0].name, "db") << "names and leases stay: release needs them";
  EXPECT_EQ(secrets[1].lease_id, "database/creds/ro/AbCd");
  ASSERT_EQ(secrets[0].value.capacity(), capacity);
  ASSERT_EQ(secrets[0].value.data(), buffer);
  size_t nonzero = 0;
  for (size_t i = 1; i < 4096; ++i) nonzero += buffer[i] != 0;  // [0] is the terminator clear() wrote
  EXPECT_EQ(nonzero, 0u) << "the value's bytes survive in the freed buffer";
}

}  // namespace
}  // namespace runguard::secrets
