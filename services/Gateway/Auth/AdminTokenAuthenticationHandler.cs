using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Auth;

public sealed class AdminTokenOptions : AuthenticationSchemeOptions
{
    /// <summary>SHA-256 of the admin token; null when authentication is disabled.</summary>
    public byte[]? TokenHash { get; set; }

    public bool Disabled { get; set; }

    // Hashing both sides first makes the comparison constant-time in the token's length as well as its content.
    public bool Matches(string presented) =>
        TokenHash is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), TokenHash);
}

/// <summary>
/// <c>Authorization: Bearer &lt;CREW_ADMIN_TOKEN&gt;</c>. The challenge answers 401 in the contract's envelope with
/// <c>WWW-Authenticate: Bearer</c>, never an empty body.
/// </summary>
public sealed class AdminTokenAuthenticationHandler(
    IOptionsMonitor<AdminTokenOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AdminTokenOptions>(options, logger, encoder)
{
    public const string SchemeName = "AdminToken";
    public const string PolicyName = "admin-token";
    private const string BearerPrefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Options.Disabled)
        {
            return Task.FromResult(Success("anonymous"));
        }

        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return Task.FromResult(Options.Matches(header[BearerPrefix.Length..].Trim())
            ? Success("admin")
            : AuthenticateResult.Fail("Invalid token"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var tokenWasWrong = result.Failure is not null;

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = tokenWasWrong ? "Bearer error=\"invalid_token\"" : "Bearer";
        await Response.WriteAsJsonAsync(new ErrorEnvelope(tokenWasWrong
            ? "Invalid token"
            : "Authorization required: send 'Authorization: Bearer <token>'"));
    }

    private AuthenticateResult Success(string name)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
