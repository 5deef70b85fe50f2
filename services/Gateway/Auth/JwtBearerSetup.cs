using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace CrewPlatform.Gateway.Auth;

/// <summary>
/// Optional JWT bearer tokens from an identity provider, next to the API keys: the signing keys come from the
/// authority's discovery document (<c>CREW_JWT_AUTHORITY</c>) or straight from a JWKS (<c>CREW_JWT_JWKS_URL</c>,
/// with <c>CREW_JWT_ISSUER</c>); the audience is always checked. The role is the value <c>admin</c> or <c>read</c>
/// of the claim <c>CREW_JWT_ROLE_CLAIM</c>; the client, for logs, is the token's subject.
/// </summary>
public static class JwtBearerSetup
{
    public const string SchemeName = "Jwt";

    public static void Configure(JwtBearerOptions jwt, GatewayOptions settings)
    {
        if (!settings.JwtEnabled)
        {
            return;
        }

        jwt.MapInboundClaims = false;
        jwt.TokenValidationParameters.ValidAudience = settings.JwtAudience;
        // Null with an authority: the issuer of its discovery document is the one accepted.
        jwt.TokenValidationParameters.ValidIssuer = settings.JwtIssuer;

        if (settings.JwtJwksUrl is { } jwks)
        {
            jwt.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                jwks,
                new JwksRetriever(settings.JwtIssuer ?? settings.JwtAuthority),
                new HttpDocumentRetriever { RequireHttps = !IsLoopback(jwks) });
        }
        else
        {
            jwt.Authority = settings.JwtAuthority;
            jwt.RequireHttpsMetadata = !IsLoopback(settings.JwtAuthority!);
        }

        jwt.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                context.Principal = new ClaimsPrincipal(ApiAccess.Identity(
                    "jwt:" + (context.Principal!.FindFirst("sub")?.Value ?? "no-subject"),
                    RoleOf(context.Principal, settings.JwtRoleClaim),
                    SchemeName));
                return Task.CompletedTask;
            },
            OnChallenge = context =>
            {
                context.HandleResponse();
                return ApiAccess.WriteChallengeAsync(context.Response, credentialWasWrong: true);
            },
        };
    }

    /// <summary>A bearer value shaped like a compact JWS (<c>header.payload.signature</c>, the header JSON in base64url).</summary>
    public static bool LooksLikeJwt(string bearer) =>
        bearer.StartsWith("eyJ", StringComparison.Ordinal) && bearer.Count(c => c == '.') == 2;

    // The claim may be repeated (a JSON array) or hold several space-separated values; admin wins over read.
    private static string? RoleOf(ClaimsPrincipal token, string claim)
    {
        var values = token.FindAll(claim).SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
        return values.Contains(ApiAccess.AdminRole) ? ApiAccess.AdminRole
            : values.Contains(ApiAccess.ReadRole) ? ApiAccess.ReadRole
            : null;
    }

    private static bool IsLoopback(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.IsLoopback;

    /// <summary>Reads a bare JWKS as the part of a discovery document the handler needs: the signing keys (and the issuer we were given).</summary>
    private sealed class JwksRetriever(string? issuer) : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var keys = new JsonWebKeySet(await retriever.GetDocumentAsync(address, cancel));
            var configuration = new OpenIdConnectConfiguration { Issuer = issuer, JsonWebKeySet = keys };
            foreach (var key in keys.GetSigningKeys())
            {
                configuration.SigningKeys.Add(key);
            }

            return configuration;
        }
    }
}
