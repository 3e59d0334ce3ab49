<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?cs var:Page.Title ?> · agenthost</title>
<link rel="icon" type="image/svg+xml" href="<?cs var:Prefix ?>/admin/static/favicon.svg">
<link rel="stylesheet" href="<?cs var:Prefix ?>/admin/static/admin.css">
<script src="<?cs var:Prefix ?>/admin/static/admin.js" defer></script>
</head>
<body>
<?cs if:User.Name ?>
<header class="top">
  <a class="brand" href="<?cs var:Prefix ?>/admin">agenthost</a>
  <input type="checkbox" id="navtoggle" class="navtoggle" aria-label="Menu">
  <label for="navtoggle" class="navbutton" aria-hidden="true">Menu</label>
  <nav class="nav">
    <a href="<?cs var:Prefix ?>/admin"<?cs if:Page.Nav == "overview" ?> aria-current="page"<?cs /if ?>>Overview</a>
    <?cs if:User.Role == "tenant_admin" ?>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/keys"<?cs if:Page.Nav == "keys" ?> aria-current="page"<?cs /if ?>>API keys</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/provider-keys"<?cs if:Page.Nav == "provider_keys" ?> aria-current="page"<?cs /if ?>>Provider keys</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/routes"<?cs if:Page.Nav == "routes" ?> aria-current="page"<?cs /if ?>>Routes</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/budgets"<?cs if:Page.Nav == "budgets" ?> aria-current="page"<?cs /if ?>>Budgets</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/projects"<?cs if:Page.Nav == "projects" ?> aria-current="page"<?cs /if ?>>Projects</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/invoice"<?cs if:Page.Nav == "invoice" ?> aria-current="page"<?cs /if ?>>Invoice</a>
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:User.TenantId ?>/webhooks"<?cs if:Page.Nav == "webhooks" ?> aria-current="page"<?cs /if ?>>Webhooks</a>
    <?cs else ?>
    <a href="<?cs var:Prefix ?>/admin/tenants"<?cs if:Page.Nav == "tenants" ?> aria-current="page"<?cs /if ?>>Tenants</a>
    <a href="<?cs var:Prefix ?>/admin/health"<?cs if:Page.Nav == "health" ?> aria-current="page"<?cs /if ?>>Health</a>
    <?cs /if ?>
    <a href="<?cs var:Prefix ?>/admin/usage"<?cs if:Page.Nav == "usage" ?> aria-current="page"<?cs /if ?>>Usage</a>
    <a href="<?cs var:Prefix ?>/admin/showback"<?cs if:Page.Nav == "showback" || (Page.Nav == "invoice" && User.Role != "tenant_admin") ?> aria-current="page"<?cs /if ?>>Showback</a>
    <a href="<?cs var:Prefix ?>/admin/executions"<?cs if:Page.Nav == "executions" ?> aria-current="page"<?cs /if ?>>Executions</a>
    <a href="<?cs var:Prefix ?>/admin/audit"<?cs if:Page.Nav == "audit" ?> aria-current="page"<?cs /if ?>>Audit log</a>
    <?cs if:User.Role != "tenant_admin" ?>
    <a href="<?cs var:Prefix ?>/admin/plans"<?cs if:Page.Nav == "plans" ?> aria-current="page"<?cs /if ?>>Plans</a>
    <a href="<?cs var:Prefix ?>/admin/global"<?cs if:Page.Nav == "global" ?> aria-current="page"<?cs /if ?>>Global</a>
    <?cs /if ?>
    <?cs if:User.Role == "operator" ?>
    <a href="<?cs var:Prefix ?>/admin/users"<?cs if:Page.Nav == "users" ?> aria-current="page"<?cs /if ?>>Users</a>
    <?cs /if ?>
  </nav>
  <form class="whoami" method="post" action="<?cs var:Prefix ?>/admin/logout">
    <a href="<?cs var:Prefix ?>/admin/account"<?cs if:Page.Nav == "account" ?> aria-current="page"<?cs /if ?> title="your account: two-factor sign-in"><?cs var:User.Name ?></a> <small class="role"><?cs var:User.Role ?></small>
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <button type="submit" class="link">Sign out</button>
  </form>
</header>
<?cs /if ?>
<main class="page">
<?cs if:Flash ?><p class="flash" role="status"><?cs var:Flash ?></p><?cs /if ?>
<?cs if:FormError ?><p class="flash error" role="alert"><?cs var:FormError ?></p><?cs /if ?>
