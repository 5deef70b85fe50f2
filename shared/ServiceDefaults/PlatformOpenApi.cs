using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// Each service's OpenAPI document at <c>/openapi/v1.json</c>, as a generated client calls the API: through the gateway,
/// the only way in to <c>/api/*</c>. An endpoint's own chain names its operation (<c>WithName</c>, <c>WithSummary</c>),
/// its success body (<see cref="ProducesEnvelope{T}"/>) and its own refusals (<see cref="ProducesErrors"/>); what the
/// gateway adds to every /api operation is described here once: the server, the Bearer credential and its 401, 403 and 429.
/// </summary>
public static class PlatformOpenApi
{
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>The security scheme's name in <c>components.securitySchemes</c>.</summary>
    public const string BearerScheme = "bearer";

    private const string ErrorSchema = nameof(ErrorEnvelope);

    /// <summary>What the gateway itself may answer on every <c>/api/*</c> operation, before the backend sees the call.</summary>
    private static readonly (string Status, string Description)[] GatewayRefusals =
    [
        ("401", "No credential, or one the gateway does not know"),
        ("403", "The credential's role may not make this call: a read key may only GET"),
        ("429", "Too many requests from this client this minute; Retry-After says when to try again"),
    ];

    public static IServiceCollection AddPlatformOpenApi(this IServiceCollection services)
    {
        // The request a document answers, for its server URL.
        services.AddHttpContextAccessor();
        return services.AddOpenApi(options =>
        {
            options.AddOperationTransformer((operation, context, _) =>
            {
                NameEachMethodApart(operation, context);
                DescribeBoundValues(operation, context);
                return Task.CompletedTask;
            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                DescribeAsWritten(schema, context);
                return Task.CompletedTask;
            });
            options.AddDocumentTransformer(DescribeGatewayAsync);
        });
    }

    /// <summary>A service's document's title, and what each of its tags (<c>WithTags</c> on its groups) groups.</summary>
    public static IServiceCollection DescribeOpenApi(this IServiceCollection services, string title, params (string Name, string Description)[] tags) =>
        services.Configure<OpenApiOptions>("v1", options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = title;
            foreach (var tag in document.Tags ?? Enumerable.Empty<OpenApiTag>())
            {
                tag.Description ??= tags.FirstOrDefault(t => t.Name == tag.Name).Description;
            }

            return Task.CompletedTask;
        }));

    /// <summary>The success envelope <c>{"success":true,"data":T,...}</c> an endpoint answers with this status.</summary>
    public static RouteHandlerBuilder ProducesEnvelope<T>(this RouteHandlerBuilder builder, int statusCode = StatusCodes.Status200OK)
        where T : class? =>
        builder.Produces<SuccessEnvelope<T>>(statusCode);

    /// <summary>The statuses an endpoint's handler refuses with, each in the error envelope <c>{"success":false,"error":"..."}</c>.</summary>
    public static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder builder, params int[] statusCodes)
    {
        foreach (var statusCode in statusCodes)
        {
            builder.Produces<ErrorEnvelope>(statusCode);
        }

        return builder;
    }

    /// <summary>
    /// A schema as the services write it, not as loosely as binding reads it: a number is a JSON number (the web defaults
    /// also read "5", which gave every number an "or a string" type); a property left out when null
    /// (<c>[JsonIgnore(Condition = WhenWritingNull)]</c>, the envelope's <c>data</c>, <c>message</c> ...) is not required,
    /// and one with a getter alone (the envelope's <c>success</c>) is always written, so it is.
    /// </summary>
    private static void DescribeAsWritten(OpenApiSchema schema, OpenApiSchemaTransformerContext context)
    {
        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        if (context.JsonPropertyInfo is null && schema.Properties is { Count: > 0 })
        {
            foreach (var property in context.JsonTypeInfo.Properties)
            {
                if (property.AttributeProvider?.IsDefined(typeof(JsonIgnoreAttribute), inherit: false) == true)
                {
                    schema.Required?.Remove(property.Name);
                }
                else if (property.Get is not null && property.Set is null)
                {
                    (schema.Required ??= new HashSet<string>()).Add(property.Name);
                }
            }
        }
    }

    /// <summary>
    /// An endpoint mapped for several methods (a schedule's PATCH and PUT) has one name, but each operation needs its own
    /// id: the first method keeps the name, the others add theirs (<c>changeSchedule</c>, <c>changeSchedulePut</c>).
    /// </summary>
    private static void NameEachMethodApart(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var methods = context.Description.ActionDescriptor.EndpointMetadata.OfType<IHttpMethodMetadata>().LastOrDefault()?.HttpMethods;
        var method = context.Description.HttpMethod;
        if (operation.OperationId is { } name && methods is { Count: > 1 } && method is not null
            && !string.Equals(methods[0], method, StringComparison.OrdinalIgnoreCase))
        {
            operation.OperationId = name + char.ToUpperInvariant(method[0]) + method[1..].ToLowerInvariant();
        }
    }

    /// <summary>
    /// Every <c>{value}</c> of the route as a required path parameter, and the query values the endpoint's parameter types
    /// read themselves (<c>BindAsync</c>), which the generator does not see: each such type says what it reads with a
    /// <see cref="BoundValueSchema"/>; a route value none describes is a string.
    /// </summary>
    private static void DescribeBoundValues(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var described = context.Description.ActionDescriptor.EndpointMetadata.OfType<BoundValueSchema>().ToList();
        var routeValues = RoutePatternFactory.Parse(context.Description.RelativePath ?? "").Parameters
            .Select(p => described.FirstOrDefault(d => d.In == ParameterLocation.Path && d.Name == p.Name) ?? new BoundValueSchema(p.Name, ParameterLocation.Path, "string"));
        foreach (var value in routeValues.Concat(described.Where(d => d.In == ParameterLocation.Query)))
        {
            if (operation.Parameters?.Any(p => p.In == value.In && p.Name == value.Name) == true)
            {
                continue;
            }

            (operation.Parameters ??= []).Add(new OpenApiParameter
            {
                Name = value.Name,
                In = value.In,
                Required = value.In == ParameterLocation.Path,
                Description = value.Description,
                Schema = new OpenApiSchema { Type = OpenApiTypeMapper.ToJsonSchemaType(value.Type), Format = value.Format },
            });
        }
    }

    private static async Task DescribeGatewayAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        // Where the document was fetched: through the gateway, its address (its route keeps the Host; its
        // X-Forwarded-Proto says whether the client came over https). No trailing slash: paths start with one.
        if (context.ApplicationServices.GetService<IHttpContextAccessor>()?.HttpContext?.Request is { } request)
        {
            var forwarded = request.Headers["X-Forwarded-Proto"].ToString();
            var scheme = forwarded is "http" or "https" ? forwarded : request.Scheme;
            document.Servers = [new OpenApiServer { Url = $"{scheme}://{request.Host}{request.PathBase}" }];
        }

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "`Authorization: Bearer <credential>` at the gateway: a named API key or, where the gateway is "
                + "configured for them, a JWT. A `read` credential may GET; every other method needs `admin`.",
        };

        if (document.Components.Schemas?.ContainsKey(ErrorSchema) != true)
        {
            document.AddComponent(ErrorSchema, await context.GetOrCreateSchemaAsync(typeof(ErrorEnvelope), null, cancellationToken));
        }

        var requirement = new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] };
        // Only /api/* is behind the gateway's credential.
        var api = document.Paths.Where(path => path.Key.StartsWith("/api/", StringComparison.Ordinal)).Select(path => path.Value);
        foreach (var operation in api.SelectMany(path => path.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>()))
        {
            operation.Security = [requirement];
            operation.Responses ??= new OpenApiResponses();
            foreach (var (status, description) in GatewayRefusals)
            {
                operation.Responses.TryAdd(status, new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = new OpenApiSchemaReference(ErrorSchema, document) },
                    },
                });
            }
        }
    }
}

/// <summary>
/// A route or query value that a parameter type binds itself (<c>BindAsync</c>), as the document describes it: where it
/// is, its JSON type and format, and optionally what it means. The type adds it to its endpoints' metadata
/// (<c>IEndpointParameterMetadataProvider</c>).
/// </summary>
public sealed record BoundValueSchema(string Name, ParameterLocation In, string Type, string? Format = null, string? Description = null);
