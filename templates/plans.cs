<?cs include:"header.cs" ?>
<h1>Plans</h1>
<section class="card">
  <p class="sub">A plan gives its tenants their limits: budgets, rates, allowed models, retention. A tenant can override them on its budgets page; values not set on a plan come from the <a href="<?cs var:Prefix ?>/admin/global">global limits</a>.</p>
  <div class="table-wrap">
  <table class="grid">
    <thead><tr><th>Plan</th><th>Description</th><th class="r">Tenants</th><th class="hide-sm">Created</th></tr></thead>
    <tbody>
    <?cs each:p = Plans ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/plans/<?cs var:url_escape(p.Name) ?>"><?cs var:p.Name ?></a></td><td><?cs var:p.Description ?></td><td class="r"><?cs var:p.Tenants ?></td><td class="hide-sm"><?cs var:p.Created ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table>
  </div>
</section>
<?cs if:User.Role == "operator" ?>
<section class="card">
  <h2>New plan</h2>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/plans">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" required maxlength="32" pattern="[a-z0-9_-]+" value="<?cs var:Form.Name ?>"></label>
    <label>Description <input name="description" maxlength="200" value="<?cs var:Form.Description ?>"></label>
    <button type="submit" class="primary">Create plan</button>
  </form>
  <p class="sub">A new plan inherits every global limit until you set its own.</p>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
