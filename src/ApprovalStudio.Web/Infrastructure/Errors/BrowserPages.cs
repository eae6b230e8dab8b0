namespace ApprovalStudio.Web.Infrastructure.Errors;

/// <summary>
/// Bodiless error statuses: a person's browser asking for a page that does not exist gets the "Page not found"
/// page (still 404); everything else (API clients, fetch, other statuses) gets problem+json.
/// </summary>
public static class BrowserPages
{
    public const string NotFoundPath = "/not-found";

    public static IApplicationBuilder UseErrorStatusPages(this IApplicationBuilder app)
    {
        // Outer: re-executes to the not-found page what the inner handler left without a body.
        app.UseStatusCodePagesWithReExecute(NotFoundPath, createScopeForStatusCodePages: true);
        app.UseStatusCodePages(async status =>
        {
            var context = status.HttpContext;
            if (context.Response.StatusCode == StatusCodes.Status404NotFound && Wants(context))
            {
                return;
            }

            var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
            if (!await problems.TryWriteAsync(new() { HttpContext = context, ProblemDetails = { Status = context.Response.StatusCode } }))
            {
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync($"Status Code: {context.Response.StatusCode}");
            }
        });
        return app;
    }

    /// <summary>A GET or HEAD whose Accept names text/html: what a browser sends when it navigates; API clients and fetch() do not.</summary>
    public static bool Wants(HttpContext context) =>
        (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)) && AcceptsHtml(context);

    /// <summary>Whether the request's Accept names text/html: a person's browser (a page, or a form it posts).</summary>
    public static bool AcceptsHtml(HttpContext context) =>
        context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));
}
