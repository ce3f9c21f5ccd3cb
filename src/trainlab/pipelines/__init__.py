"""trainlab.pipelines."""
