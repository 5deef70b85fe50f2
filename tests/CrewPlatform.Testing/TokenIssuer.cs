using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>
/// A tiny identity provider on a loopback port: an RSA key made here, published as a JWKS and through an OpenID
/// Connect discovery document, and tokens signed with it (or with another key, for a bad signature).
/// </summary>
public sealed class TokenIssuer : IAsyncLifetime
{
    public const string Audience = "crew-gateway";

    private readonly RsaSecurityKey signingKey = new(RSA.Create(2048)) { KeyId = "test-key" };
    private WebApplication app = null!;

    public string Url { get; private set; } = null!;

    public string JwksUrl => Url + "/jwks.json";

    /// <summary>The issuer named in the discovery document and in the tokens: the provider's own address.</summary>
    public string Issuer => Url;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Url = $"http://127.0.0.1:{LoopbackPort.Free()}";
        builder.WebHost.UseUrls(Url);
        app = builder.Build();

        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(signingKey.Rsa.ExportParameters(false)) { KeyId = signingKey.KeyId });
        jwk.Use = "sig";
        jwk.Alg = SecurityAlgorithms.RsaSha256;
        app.MapGet("/jwks.json", () => Results.Json(new { keys = new[] { new { jwk.Kty, jwk.Kid, jwk.Use, jwk.Alg, jwk.N, jwk.E } } }));
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new { issuer = Issuer, jwks_uri = JwksUrl }));
        await app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>A token for <paramref name="subject"/>; each part can be made wrong on purpose.</summary>
    public string Mint(
        string subject,
        IReadOnlyDictionary<string, object>? claims = null,
        string audience = Audience,
        string? issuer = null,
        DateTime? expires = null,
        bool signedByAnotherKey = false)
    {
        var key = signedByAnotherKey ? new RsaSecurityKey(RSA.Create(2048)) { KeyId = signingKey.KeyId } : signingKey;
        var expiry = expires ?? DateTime.UtcNow.AddMinutes(10);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            Claims = claims is null ? null : new Dictionary<string, object>(claims),
            Audience = audience,
            Issuer = issuer ?? Issuer,
            IssuedAt = expiry.AddMinutes(-20),
            NotBefore = expiry.AddMinutes(-20),
            Expires = expiry,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }
}
