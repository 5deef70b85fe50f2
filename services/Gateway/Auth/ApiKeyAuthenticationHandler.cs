using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Auth;

public sealed class ApiKeyOptions : AuthenticationSchemeOptions
{
    public IReadOnlyList<ApiKey> Keys { get; set; } = [];

    public bool Disabled { get; set; }

    /// <summary>
    /// The key whose hash equals the presented value's. Hashing both sides first makes each comparison constant-time
    /// in the key's length as well as its content; every key is compared, so the time does not tell which matched.
    /// </summary>
    public ApiKey? Match(string presented)
    {
        var hash = ApiKey.HashOf(presented);
        ApiKey? match = null;
        foreach (var key in Keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash))
            {
                match = key;
            }
        }

        return match;
    }
}

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c> with one of the keys of <see cref="ApiKeyList"/>: the client is the key's
/// name, with its role. The challenge answers 401 in the contract's envelope (<see cref="ApiAccess.WriteChallengeAsync"/>).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<ApiKeyOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    private const string BearerPrefix = "Bearer ";

    /// <summary>The value after <c>Bearer </c>, or null when the header is missing or uses another scheme.</summary>
    public static string? BearerValue(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
            ? header[BearerPrefix.Length..].Trim()
            : null;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Options.Disabled)
        {
            return Task.FromResult(Success("anonymous", ApiAccess.AdminRole));
        }

        if (BearerValue(Request) is not { } presented)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return Task.FromResult(Options.Match(presented) is { } key
            ? Success(key.Name, key.Role)
            : AuthenticateResult.Fail("Invalid token"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        await ApiAccess.WriteChallengeAsync(Response, credentialWasWrong: result.Failure is not null);
    }

    private AuthenticateResult Success(string name, string role) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(ApiAccess.Identity(name, role, SchemeName)), SchemeName));
}
